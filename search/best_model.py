"""The study's deliverable: the best configuration refitted once, logged on the study's run, explained.

At the end of every stretch of trials (and by ``search sync``): the figures and
``trials.csv`` on the study's run; and, when the best trial changed since the
last refit, the best configuration refitted on the whole training split,
scored on the test split and logged as the run's model (optionally registered,
see `search.champion`). A resume that finds nothing better logs no new model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from models import SearchSpace
    from search.champion import Registration
    from search.data import Dataset
    from search.evaluation import Scoring
    from search.lineage import Lineage
    from search.plots import FigureProcess

#: Tags on the study's run: the trial its model was refitted from, and the logged model's id.
BEST_TRIAL_TAG, BEST_MODEL_TAG = "best_model.trial", "best_model.id"
#: Registered model names go into ``models:/NAME@champion`` URIs: these characters would break them.
FORBIDDEN_IN_NAMES = "/:@"


@dataclass
class Delivered:
    """What the end of a stretch added to the study's run."""

    trial: int | None = None
    model_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    refitted: bool = False
    registration: Registration | None = None
    skipped: list[str] = field(default_factory=list)

    def lines(self, metric: str) -> list[str]:
        lines = [f"  {line}" for line in self.skipped]
        if self.trial is None:
            return lines
        if self.refitted:
            lines.append(f"Best model: trial {self.trial} refitted on the training split, "
                         f"test_{metric} = {self.metrics[f'test_{metric}']:.4f}; logged on the study run as "
                         f"models:/{self.model_id}")
        else:
            lines.append(f"Best model: unchanged (trial {self.trial}, models:/{self.model_id})")
        if self.registration is not None:
            lines.append(f"Registry: {self.registration.describe()}")
        return lines


def check_registered_name(name: str | None, log_model: bool = True) -> None:
    """Refuse a registered-model name that would break model URIs, or nothing to register; before anything runs."""
    from search.errors import InputError

    if name is None:
        return
    if not name.strip() or any(c in name for c in FORBIDDEN_IN_NAMES):
        raise InputError(f"--register {name!r}: a registered model's name cannot be blank or contain / : @")
    if not log_model:
        raise InputError("--register needs the best model logged: drop --no-log-model")


@dataclass(frozen=True)
class StudyOnRun:
    """A study and where its deliverable goes: how it scored, on what data, logged on which run."""

    study: optuna.study.Study
    space: SearchSpace
    scoring: Scoring
    data: Dataset
    lineage: Lineage
    tracking_uri: str
    experiment_id: str
    run_id: str


def deliver(
    target: StudyOnRun, log_model: bool = True, register: str | None = None, figures: FigureProcess | None = None
) -> Delivered:
    """Explain the study on its run, and refit, log (and register) its best model if it changed.

    With ``figures``, that process draws the figures meanwhile; else they are drawn here first.
    """
    from mlflow import MlflowClient

    from search.plots import log_explanation

    client = MlflowClient(target.tracking_uri)
    if figures is None:
        delivered = Delivered(skipped=log_explanation(client, target.run_id, target.study, target.space))
    else:
        figures.draw()
        delivered = Delivered()
    try:
        _deliver_model(delivered, client, target, log_model, register)
    finally:
        if figures is not None:
            try:
                delivered.skipped = figures.result()
            except RuntimeError as error:  # the model is logged all the same: say what is missing
                delivered.skipped = [f"figures: not logged ({error})"]
    return delivered


def _deliver_model(
    delivered: Delivered, client: Any, target: StudyOnRun, log_model: bool, register: str | None
) -> None:
    from search.artifacts import log_fitted_model
    from search.evaluation import fit_and_score
    from search.trials import TRIAL_ATTRIBUTE_KEY

    study, space, scoring, data, lineage = target.study, target.space, target.scoring, target.data, target.lineage
    tracking_uri, experiment_id, run_id = target.tracking_uri, target.experiment_id, target.run_id
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
        spec, params = space.decode(best.params)
        seed = (best.user_attrs.get(TRIAL_ATTRIBUTE_KEY) or {}).get("seed")
        model, scores = fit_and_score(spec.build(params, seed), data, scoring.metric, named=True)
        metric = scoring.metric
        delivered.metrics = {f"train_{metric}": scores[f"train_{metric}"], f"test_{metric}": scores[f"test_{metric}"],
                             scoring.cv_name: float(best.value)}
        delivered.model_id = log_fitted_model(tracking_uri, run_id, experiment_id, model, spec, data,
                                              delivered.metrics, lineage)
        client.set_tag(run_id, BEST_TRIAL_TAG, str(best.number))
        client.set_tag(run_id, BEST_MODEL_TAG, delivered.model_id)
        delivered.refitted = True
    if register is not None and not _registered(client, register, delivered.model_id):
        from search.champion import DIGEST_TAG, METRIC_TAG, SCORE_TAG
        from search.champion import register as register_version

        test = delivered.metrics.get(f"test_{scoring.metric}")
        version_tags = {"study": study.study_name, "trial": best.number, METRIC_TAG: scoring.cv_name,
                        SCORE_TAG: best.value, DIGEST_TAG: lineage.digest}
        if test is not None:
            version_tags["test_score"] = test
        delivered.registration = register_version(client, register, delivered.model_id, run_id, version_tags)


def _registered(client: Any, name: str, model_id: str) -> bool:
    """Whether logged model ``model_id`` is already a version of ``name``."""
    from mlflow.exceptions import MlflowException

    from search.tracking import quote

    try:
        versions = client.search_model_versions(f"name = {quote(name)}")
    except MlflowException:
        return False
    return any(v.source == f"models:/{model_id}" for v in versions)
