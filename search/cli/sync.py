"""``search sync``: give every finished trial of a study exactly one run in MLflow."""

from __future__ import annotations

from search import defaults
from search.cli import options as opt
from search.cli.results import StudyName
from search.stores.urls import resolve_storage, resolve_tracking
from search.study.repair import sync_study


def sync(
    study_name: StudyName,
    storage: opt.Storage = defaults.STORAGE,
    tracking_uri: opt.TrackingUri = None,
) -> None:
    """Repair a study's MLflow runs after a crash or an outage.

    Logs finished trials that have no run, completes runs left RUNNING, removes
    duplicates, fails trials whose process is gone, and brings the study run's
    best up to date. Running it again changes nothing.
    """
    outcome = sync_study(study_name, resolve_storage(storage), resolve_tracking(tracking_uri))
    for line in outcome.lines():
        print(line)
