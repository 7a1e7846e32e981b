"""``search sync``: bring a study's MLflow runs in line with its trials, after a crash, a kill or an outage.

Idempotent: a second run changes nothing. Every ``search study`` ends with the
same repair of its own study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search import defaults
from search.errors import InputError

if TYPE_CHECKING:
    import optuna

    from search.best_model import Delivered
    from search.tracking import SyncReport


@dataclass
class RepairOutcome:
    """What ``search sync`` found and mended."""

    study: optuna.study.Study
    experiment_id: str
    study_run_id: str
    report: SyncReport
    failed_orphans: list[int] = field(default_factory=list)
    ended_study_run: str | None = None
    delivered: Delivered | None = None
    metric: str = "accuracy"

    def lines(self) -> list[str]:
        lines = []
        if self.failed_orphans:
            numbers = ", ".join(map(str, self.failed_orphans))
            lines.append(f"Failed trials {numbers}: their process is gone (each is queued again).")
        described = self.report.describe()
        lines.append(described[:1].upper() + described[1:] + ".")
        if self.report.left_to_their_process:
            numbers = ", ".join(map(str, self.report.left_to_their_process))
            lines.append(f"Left trials {numbers} to the process that ran them, which is still running.")
        if self.ended_study_run:
            lines.append(f"Ended the study run, left RUNNING, as {self.ended_study_run}.")
        if self.delivered is not None:
            lines += self.delivered.lines(self.metric)
        return lines


def repair_study(study_name: str, storage_url: str, tracking_uri: str) -> RepairOutcome:
    """Give every finished trial of ``study_name`` exactly one complete run, and end what a dead process left."""
    import optuna
    from mlflow import MlflowClient

    from search.best_model import StudyOnRun, deliver
    from search.data import DataSpec
    from search.evaluation import Scoring
    from search.lineage import lineage
    from search.stores.mlflow import experiment_id as find_experiment
    from search.stores.mlflow import prepare_tracking_store
    from search.stores.optuna import load_study, open_storage
    from search.study.config import StudyConfig
    from search.study.recovery import fail_orphans
    from search.study.runner import STRETCH_ATTRIBUTE_PREFIX, run_params_of
    from search.tracking import STUDY_RUN_ATTRIBUTE_KEY, MLflowCallback
    from search.trials import SETTINGS_ATTRIBUTE_KEY

    settings = load_study(study_name, storage_url).user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}  # read-only first
    if "models" not in settings:
        raise InputError(f"study {study_name!r} was not made by 'search study' (it has no settings to log it with)")
    data = DataSpec.from_label(str(settings.get("data", defaults.DATA)), float(settings.get("test_size",
                               defaults.TEST_SIZE)), int(settings.get("split_seed", defaults.SPLIT_SEED)))
    config = StudyConfig(
        models=tuple(str(settings["models"]).split(",")), study_name=study_name, storage=storage_url,
        tracking_uri=tracking_uri, data=data,
        scoring=Scoring(settings.get("metric", defaults.METRIC), int(settings.get("cv", defaults.CV_FOLDS))),
    )
    dataset = data.load()  # the best model is refitted on it: an unreadable file is said before anything is written
    prepare_tracking_store(tracking_uri)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    stretches = [study.user_attrs[key] for key in sorted(study.user_attrs) if key.startswith(STRETCH_ATTRIBUTE_PREFIX)]
    log_model = bool(stretches[-1].get("log_model", True)) if stretches else True  # as the last command asked
    client = MlflowClient(tracking_uri)
    run_id = study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY)
    experiment = None
    if run_id is not None:
        try:
            experiment = client.get_run(run_id).info.experiment_id
        except Exception:  # the parent run is gone: it is made again in the study's experiment
            experiment = None
    if experiment is None:
        experiment = find_experiment(tracking_uri, str(settings.get("experiment") or study_name))
    orphans = fail_orphans(study)
    callback = MLflowCallback(
        tracking_uri=tracking_uri, metric_name=config.scoring.cv_name, create_experiment=False,
        mlflow_kwargs={"experiment_id": experiment}, tag_trial_user_attrs=False, study_run=True,
        study_run_params=settings, run_params=run_params_of(config),
    )
    try:
        report = callback.sync(study)
        outcome = RepairOutcome(study, experiment, callback.study_run_id(study), report, orphans)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        outcome.metric = config.scoring.metric
        if not running:  # the best model is made current once no trial runs
            outcome.delivered = deliver(StudyOnRun(study, config.space, config.scoring, dataset, lineage(dataset),
                                                   tracking_uri, experiment, outcome.study_run_id), log_model)
        if not running and client.get_run(outcome.study_run_id).info.status == "RUNNING":
            callback.end_study_run(study, "KILLED")  # its command died: nothing runs the study now
            outcome.ended_study_run = "KILLED"
    finally:
        callback.close()
    return outcome
