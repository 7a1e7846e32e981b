"""A study's trials as users read them: the estimator's params, states and scores.

One table for ``search trials``, the ``trials.csv`` of the study's run and the
plots, built on Optuna's ``trials_dataframe`` and pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models import SearchSpace
from search import defaults
from search.errors import SearchError
from search.evaluation import Scoring
from search.plugins import models_named
from search.tracking import FAIL_REASON_ATTRIBUTE_KEY, INTERRUPTED_REASON, METRICS_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna
    import pandas as pd

#: Study user attribute holding the settings the study was made with (and a resume must match).
SETTINGS_ATTRIBUTE_KEY = "settings"
#: Trial user attribute: ``{"seed": ..., "worker": "host:pid"}``, set when a trial starts, so any
#: result can be reproduced from its run and a trial whose process died can be told from a running one.
TRIAL_ATTRIBUTE_KEY = "search"


def worker_of(trial: optuna.trial.FrozenTrial) -> str | None:
    """The process that ran ``trial`` (``host:pid``, or the id its launcher gave it), if it recorded one."""
    return (trial.user_attrs.get(TRIAL_ATTRIBUTE_KEY) or {}).get("worker")


def seed_of(trial: optuna.trial.FrozenTrial) -> int | None:
    """The seed ``trial``'s estimator was built with, if it recorded one."""
    return (trial.user_attrs.get(TRIAL_ATTRIBUTE_KEY) or {}).get("seed")


def counts_toward_quota(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts as one of the trials a command asked for.

    Complete, pruned, and failed by the objective count; a trial interrupted by
    a signal, or lost with its process, does not: another one replaces it.
    """
    if trial.state.name in ("COMPLETE", "PRUNED"):
        return True
    reason = trial.user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY)
    return trial.state.name == "FAIL" and reason is not None and not str(reason).startswith(INTERRUPTED_REASON)


def metric_of(study: optuna.study.Study) -> str:
    """The name a study's objective goes by (``cv_accuracy``), from its settings."""
    metric = (study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}).get("metric") or defaults.METRIC
    return Scoring(str(metric)).cv_name


def space_of(study: optuna.study.Study) -> SearchSpace | None:
    """The search space a study was made with, from its settings (None if its models are not registered here)."""
    names = str((study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}).get("models", "")).split(",")
    try:
        return SearchSpace(models_named([name for name in names if name]))
    except (SearchError, ValueError):
        return None


def shown_params(
    space: SearchSpace | None, trial: optuna.trial.FrozenTrial, *, seed: bool = False
) -> dict[str, Any]:
    """A trial's params as users see them (and its seed, with ``seed``)."""
    shown = space.shown(trial.params) if space is not None else dict(trial.params)
    recorded = seed_of(trial)
    if seed and recorded is not None:
        shown["seed"] = recorded
    return shown


def trials_frame(study: optuna.study.Study, *, scores: bool = False) -> pd.DataFrame:
    """Every trial: number, state, value (complete trials only), partial value (pruned ones), duration, params.

    With ``scores``, also what each configuration scored refitted on the training split (train_*, test_*).
    """
    import pandas as pd

    frame = study.trials_dataframe(attrs=("number", "state", "value", "duration"), multi_index=False)
    if frame.empty:
        return frame
    pruned = frame["state"] == "PRUNED"
    frame.insert(frame.columns.get_loc("value") + 1, "partial", frame["value"].where(pruned))
    frame["value"] = frame["value"].where(~pruned)
    frame["duration_s"] = pd.to_timedelta(frame.pop("duration")).dt.total_seconds()  # NaT while none has ended
    # Trials other workers add meanwhile are not in the frame: take the frame's, by number.
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    trials = [by_number[number] for number in frame["number"]]
    space = space_of(study)
    # object: an integer stays one beside a model's missing value, and None (max_depth=None) stays None
    parts = [frame, pd.DataFrame([shown_params(space, t, seed=True) for t in trials], index=frame.index, dtype=object)]
    if scores:
        recorded = [t.user_attrs.get(METRICS_ATTRIBUTE_KEY) or {} for t in trials]
        numbers = [{k: v for k, v in r.items() if isinstance(v, (int, float))} for r in recorded]
        parts.append(pd.DataFrame(numbers, index=frame.index))
    return pd.concat(parts, axis=1)
