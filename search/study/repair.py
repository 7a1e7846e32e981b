"""``search sync``: bring a study's MLflow runs in line with its trials, after a crash, a kill or an outage.

Idempotent: a second run changes nothing. Every ``search study`` ends with the
same reconciliation of its own study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search.deliverable.best_model import StudyOnRun, deliver
from search.deliverable.lineage import lineage
from search.errors import InputError
from search.stores.optuna_storage import load_study, open_storage
from search.stores.tracking_store import experiment_id as find_experiment
from search.stores.tracking_store import prepare_tracking_store
from search.study.callbacks import study_callback
from search.study.config import StudyConfig
from search.study.orphans import fail_orphans
from search.study.plan import fitted_space, resolved, stretches_of
from search.study.wrapup import ENDED_KEY
from search.tracking import STUDY_RUN_ATTRIBUTE_KEY
from search.trials import SETTINGS_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient

    from search.deliverable.best_model import Delivered
    from search.stores.urls import Store
    from search.tracking import SyncReport


@dataclass
class SyncOutcome:
    """What ``search sync`` found and mended."""

    study: optuna.study.Study
    experiment_id: str
    study_run_id: str
    report: SyncReport
    metric: str
    failed_orphans: list[int] = field(default_factory=list)
    ended_study_run: str | None = None
    delivered: Delivered | None = None

    def lines(self) -> list[str]:
        lines = []
        if self.failed_orphans:
            numbers = ", ".join(map(str, self.failed_orphans))
            lines.append(f"Failed trials {numbers}: their process is gone "
                         "(each queued again unless it was already a retry).")
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


def sync_study(study_name: str, storage: Store, tracking: Store) -> SyncOutcome:
    """Give every finished trial of ``study_name`` exactly one complete run, and end what a dead process left."""
    import optuna

    stored = load_study(study_name, storage)  # read-only first: a missing study creates nothing (nor loads MLflow)
    last = stretches_of(stored)[-1:] or [{}]  # the last command's wishes: its model, registration, figures
    config = StudyConfig.from_settings(
        stored.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, name=study_name, storage=storage, tracking=tracking,
        log_model=bool(last[0].get("log_model", True)), register=last[0].get("register"),
        figures=bool(last[0].get("figures", True)),
        refit_all_rows=bool(last[0].get("refit_all_rows", False)),  # older studies refitted on the training split
    )
    check_same_store(stored, tracking)
    dataset = config.data.load()  # the best model is refitted on it: an unreadable file is said before any write
    config = resolved(config, dataset)
    space = fitted_space(config, dataset)
    prepare_tracking_store(tracking)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    from mlflow import MlflowClient

    client = MlflowClient(tracking.url)
    experiment = _experiment_of(client, study, config)
    orphans = fail_orphans(study)
    callback = study_callback(config, experiment, seed=None, background=False)
    try:
        report = callback.sync(study)
        outcome = SyncOutcome(study, experiment, callback.study_run_id(study), report, config.scoring.name, orphans)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if not running:  # the best model is made current once no trial runs
            target = StudyOnRun(study, space, config.scoring, dataset, lineage(dataset), tracking,
                                experiment, outcome.study_run_id)
            outcome.delivered = deliver(target, log_model=config.log_model, register=config.register,
                                        refit_all_rows=config.refit_all_rows,
                                        explain=config.figures)
        if not running and client.get_run(outcome.study_run_id).info.status == "RUNNING":
            # Its command could not end it (the store was down) or died: end it as the command ended, if it said.
            status = str(last[0].get(ENDED_KEY, "KILLED"))
            callback.end_study_run(study, status)
            outcome.ended_study_run = status
    finally:
        callback.close()
    return outcome


def check_same_store(study: optuna.study.Study, tracking: Store) -> None:
    """Refuse a tracking store the study's commands never logged to: a repair never moves a study's runs.

    A mistyped ``--tracking-uri`` would otherwise make a new store, log every trial again there and point the
    study at it, so that the store the user works with no longer finds the study's model.
    """
    if study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY) is None:
        return  # never logged anywhere: any store may take it
    used = [stretch["tracking"] for stretch in stretches_of(study) if "tracking" in stretch]
    if used and tracking.masked not in used:
        raise InputError(f"study {study.study_name!r} logs to {used[-1]}, not {tracking.masked}: pass "
                         f"--tracking-uri {used[-1]} (a repair never moves a study to another store)")
    if tracking.path is not None and not tracking.path.exists():
        raise InputError(f"no MLflow tracking store at {tracking.path}: study {study.study_name!r} logs to another; "
                         "pass the --tracking-uri its commands used")


def _experiment_of(client: MlflowClient, study: optuna.study.Study, config: StudyConfig) -> str:
    """The experiment of the study's parent run; if the run is gone, the study's experiment (made again)."""
    run_id = study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY)
    if run_id is not None:
        try:
            return client.get_run(run_id).info.experiment_id
        except Exception:  # the parent run is gone: it is made again in the study's experiment
            pass
    return find_experiment(config.tracking, config.experiment or config.name)
