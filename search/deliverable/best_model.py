"""The study's deliverable: the best configuration refitted once, logged on the study's run, explained.

At the end of every stretch of trials (and by ``search sync``): the figures and
``trials.csv`` on the study's run; and, when the best trial changed since the
last refit, the best configuration refitted on the whole training split,
scored on the test split, fitted again on every row (unless asked not to) and
logged as the run's model (optionally registered,
see `search.deliverable.champion`). A resume that finds nothing better logs no new model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search.deliverable.champion import (
    DIGEST_TAG,
    METRIC_TAG,
    SCORE_TAG,
    Registration,
    direction_tag,
    register_version,
    registered_already,
)
from search.deliverable.figures import log_explanation
from search.deliverable.logged_model import log_fitted_model
from search.evaluation import deliverable_fit
from search.fit_process import run_fit
from search.interrupts import Interrupted, shielded, stop_requested
from search.trials import seed_of

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

    from models import SearchSpace
    from search.data import Dataset
    from search.deliverable.figures import FigureProcess
    from search.deliverable.lineage import Lineage
    from search.evaluation import Scoring
    from search.stores.urls import Store

#: Tags on the study's run: the trial its model was refitted from, and the logged model's id.
BEST_TRIAL_TAG, BEST_MODEL_TAG = "best_model.trial", "best_model.id"
#: Study user attribute: the trial last delivered, its model's id, its scores and the rows it was fitted on.
DELIVERED_ATTRIBUTE_KEY = "delivered"
#: Tag on the study's run: the finished trials its figures show (they are drawn again only when that changes).
EXPLAINED_TAG = "figures.trials"


@dataclass
class Delivered:
    """What the end of a stretch added to the study's run."""

    trial: int | None = None
    model_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    refitted: bool = False
    #: The rows the logged model was fitted on, when this command fitted it ("all 1,000 rows", "the training split").
    fitted_on: str = ""
    registration: Registration | None = None
    skipped: list[str] = field(default_factory=list)
    #: The refitted model itself (when this command refitted it).
    model: Pipeline | None = field(default=None, repr=False)
    #: What it was doing (and, once stopped by a signal, what it did not finish: ``stopped``).
    step: str = ""
    stopped: str = ""

    def lines(self, metric: str) -> list[str]:
        lines = [f"  {line}" for line in self.skipped]
        if self.stopped in ("refitting", "logging"):
            return [*lines, f"Best model: not logged (interrupted while {self.stopped} it)"]
        if self.stopped == "drawing the figures":
            lines.append("  figures: not all drawn (interrupted)")
        if self.trial is None:
            return lines
        if self.model_id is None:  # stopped before it was refitted
            return [*lines, "Best model: not logged (interrupted)"]
        if self.refitted:
            test = f"test_{metric} = {self.metrics[f'test_{metric}']:.4f}"
            if self.fitted_on == "the training split":
                lines.append(f"Best model: trial {self.trial} refitted on the training split, {test}; logged on the "
                             f"study run as models:/{self.model_id}")
            else:
                lines.append(f"Best model: trial {self.trial}, {test} on the held-out split; refitted on "
                             f"{self.fitted_on} and logged on the study run as models:/{self.model_id}")
        else:
            lines.append(f"Best model: unchanged (trial {self.trial}, models:/{self.model_id})")
        if self.registration is not None:
            lines.append(f"Registry: {self.registration.describe()}")
        elif self.stopped == "registering":
            lines.append("Registry: not registered (interrupted); the champion alias did not move")
        return lines


@dataclass(frozen=True)
class StudyOnRun:
    """A study and where its deliverable goes: how it scored, on what data, logged on which run."""

    study: optuna.study.Study
    space: SearchSpace
    scoring: Scoring
    data: Dataset
    lineage: Lineage
    tracking: Store
    experiment_id: str
    run_id: str


def deliver(
    target: StudyOnRun,
    *,
    log_model: bool = True,
    register: str | None = None,
    explain: bool = True,
    figures: FigureProcess | None = None,
    note: Callable[[str], None] = lambda text: None,
    refit_all_rows: bool = True,
) -> Delivered:
    """Explain the study on its run (``explain``), and refit, log (and register) its best model if it changed.

    With ``figures``, that process draws the figures meanwhile; else they are drawn here first. A signal
    stops it between writes (never in the middle of logging or registering a model): ``stopped`` says where.
    """
    delivered = Delivered()
    try:
        _deliver(delivered, target, log_model=log_model, register=register, explain=explain, figures=figures,
                 note=note, refit_all_rows=refit_all_rows)
    except Interrupted:
        delivered.stopped = delivered.step
    return delivered


def _deliver(
    delivered: Delivered,
    target: StudyOnRun,
    *,
    log_model: bool,
    register: str | None,
    explain: bool,
    figures: FigureProcess | None,
    note: Callable[[str], None],
    refit_all_rows: bool,
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(target.tracking.url)
    delivered.step = "drawing the figures"
    shown = _finished_trials(target.study)
    explain = explain and client.get_run(target.run_id).data.tags.get(EXPLAINED_TAG) != shown
    if not explain:
        figures = None  # drawn for these very trials already (or not wanted): `close` stops its process
    elif figures is not None:
        figures.draw()
    else:
        delivered.skipped = log_explanation(client, target.run_id, target.study)
    try:
        _deliver_model(delivered, client, target, log_model=log_model, register=register, note=note,
                       refit_all_rows=refit_all_rows)
    except Exception:  # the figures are still logged (the caller reports the error): wait for them
        _figures_done(delivered, figures)
        raise
    delivered.step = "drawing the figures"
    explain = _figures_done(delivered, figures) and explain
    if explain:
        client.set_tag(target.run_id, EXPLAINED_TAG, shown)


def _figures_done(delivered: Delivered, figures: FigureProcess | None) -> bool:
    """Wait for the figure process (if any); whether the figures got logged."""
    if figures is None:
        return True
    try:
        delivered.skipped = figures.result()
    except RuntimeError as error:  # the model is logged all the same: say what is missing
        delivered.skipped = [f"figures: not logged ({error})"]
        return False
    return True


def _finished_trials(study: optuna.study.Study) -> str:
    """The finished trials a study's figures show, as a tag value (their count and the last one's number)."""
    import optuna

    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL))
    return f"{len(finished)} up to trial {max((t.number for t in finished), default=-1)}"


def _deliver_model(
    delivered: Delivered,
    client: MlflowClient,
    target: StudyOnRun,
    *,
    log_model: bool,
    register: str | None,
    note: Callable[[str], None],
    refit_all_rows: bool,
) -> None:
    study, space, scoring, data, lineage = target.study, target.space, target.scoring, target.data, target.lineage
    experiment_id, run_id = target.experiment_id, target.run_id
    try:
        best = study.best_trial
    except ValueError:  # no complete trial: nothing to refit
        return
    if not log_model:
        return
    tags = client.get_run(run_id).data.tags
    delivered.trial = best.number
    if tags.get(BEST_TRIAL_TAG) == str(best.number) and tags.get(BEST_MODEL_TAG):
        delivered.model_id = tags[BEST_MODEL_TAG]
        delivered.metrics = {m.key: m.value for m in client.get_logged_model(delivered.model_id).metrics or []}
    else:
        delivered.step = "refitting"  # before saying so: a signal may come the moment it is said
        delivered.fitted_on = f"all {data.n_samples:,} rows" if refit_all_rows else "the training split"
        note(f"Refitting the best configuration (trial {best.number}) for its test score, then on "
             f"{delivered.fitted_on}, to log it…" if refit_all_rows else
             f"Refitting the best configuration (trial {best.number}) on the training split, to log it…")
        spec, params = space.decode(best.params)
        pipeline = spec.build(params, seed_of(best), data.columns)
        # In a child process, as the trials: a signal stops even a fit in compiled code at once.
        model, scores = run_fit(lambda send: deliverable_fit(pipeline, data, scoring, refit_all_rows=refit_all_rows),
                                should_stop=stop_requested)
        metric = scoring.name
        delivered.metrics = {f"train_{metric}": scores[f"train_{metric}"], f"test_{metric}": scores[f"test_{metric}"],
                             scoring.cv_name: float(best.value)}
        delivered.step = "logging"
        with shielded():  # a logged model and the tags that name it, or neither
            delivered.model_id = log_fitted_model(target.tracking, run_id, experiment_id, model, spec, data,
                                                  delivered.metrics, lineage, delivered.fitted_on)
            client.set_tag(run_id, BEST_TRIAL_TAG, str(best.number))
            client.set_tag(run_id, BEST_MODEL_TAG, delivered.model_id)
            study.set_user_attr(DELIVERED_ATTRIBUTE_KEY, {"trial": best.number, "model_id": delivered.model_id,
                                                          "fitted_on": delivered.fitted_on, **delivered.metrics})
            # Logged: a signal that came meanwhile stops what is left, the registration.
            delivered.refitted, delivered.model, delivered.step = True, model, "registering"
    delivered.step = "registering"
    if register is None:
        return
    delivered.registration = registered_already(client, register, delivered.model_id)
    if delivered.registration is None:
        test = delivered.metrics.get(f"test_{scoring.name}")
        version_tags = {"study": study.study_name, "trial": best.number, METRIC_TAG: scoring.cv_name,
                        SCORE_TAG: best.value, DIGEST_TAG: lineage.digest, **direction_tag(scoring)}
        if test is not None:
            version_tags["test_score"] = test
        delivered.registration = register_version(client, register, delivered.model_id, run_id, version_tags)

