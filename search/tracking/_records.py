"""Turning a finished Optuna trial into what its MLflow run should hold.

A `RunRecord` is plain, picklable data computed in the optimising thread, so
it can be written by that thread or shipped to a writer process unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime

    import optuna

#: Trial user attribute holding the id of the trial's MLflow run (set by `MLflowCallback.track_in_mlflow`).
RUN_ID_ATTRIBUTE_KEY = "mlflow_run_id"
#: Trial user attribute holding a failed trial's error (Optuna 5 no longer keeps it); also its run's tag.
FAIL_REASON_ATTRIBUTE_KEY = "fail_reason"
#: Trial user attribute: a dict logged as MLflow metrics, not tags: ``{name: number}``, or
#: ``{name: [value at step 0, value at step 1, ...]}`` for a step metric. Lets an objective
#: record extra scores without importing MLflow, in one storage write.
METRICS_ATTRIBUTE_KEY = "mlflow_metrics"
#: The ``fail_reason`` tag of a failed trial that recorded no error: it failed outside its objective (its
#: process died and Optuna's heartbeat, or a repair, failed it).
NO_ERROR_REASON = "no error recorded: failed outside its objective (its process stopped while running it)"
#: How `record_failures` starts the reason of a trial stopped by Ctrl-C or SIGTERM; its run ends KILLED.
INTERRUPTED_REASON = "interrupted"
#: Suffix of the metric a pruned trial's value goes under in the study layout ("cv_accuracy_partial").
PARTIAL_SUFFIX = "_partial"

#: Our own bookkeeping attributes: logged as what they mean, never as tags.
_BOOKKEEPING = (RUN_ID_ATTRIBUTE_KEY, METRICS_ATTRIBUTE_KEY)

# MLflow's limits (mlflow.utils.validation); copied so building a record needs no mlflow import.
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAM_VAL_LENGTH = 6000

_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


@dataclass
class RunRecord:
    """Everything to write for one trial's run."""

    study_name: str
    trial_number: int
    run_name: str
    status: str
    start_ms: int
    end_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    #: ``(key, value, step, timestamp_ms)`` for values reported with ``trial.report``.
    step_metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    run_id: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        """Identifies the trial across studies and storages (trial ids repeat across storages)."""
        return (self.study_name, self.trial_number)


def truncate(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def metric_names(metric_name: str | Sequence[str], n_values: int) -> list[str]:
    """The metric name of each objective value, as optuna-integration names them."""
    if isinstance(metric_name, str):
        return [metric_name] if n_values == 1 else [f"{metric_name}_{i}" for i in range(n_values)]
    if len(metric_name) != n_values:
        raise ValueError(
            f"Running multi-objective optimization with {n_values} objective values, but "
            f"{len(metric_name)} names specified. Match objective values and names, or use default broadcasting."
        )
    return list(metric_name)


def _ms(moment: datetime.datetime | None, fallback: int) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else fallback


def build_record(
    study: optuna.study.Study,
    trial: optuna.trial.FrozenTrial,
    *,
    metric_name: str | Sequence[str],
    run_name: str | None,
    extra_tags: Mapping[str, Any],
    tag_trial_user_attrs: bool,
    tag_study_user_attrs: bool,
    now_ms: int,
    partial_values: bool = False,
    params: Mapping[str, Any] | None = None,
) -> RunRecord:
    """The run for ``trial``: tags, params and metrics as optuna-integration logged them, plus state.

    With ``partial_values``, the objective's metric means a complete trial's
    value only: a pruned trial's value (Optuna gives it the last reported one)
    and the reported values go under ``<metric>_partial`` instead.
    """
    names = metric_names(metric_name, len(study.directions))
    directions = [d.name for d in study.directions]
    tags: dict[str, Any] = dict(extra_tags)
    tags["number"] = str(trial.number)
    tags["datetime_start"] = str(trial.datetime_start)
    tags["datetime_complete"] = str(trial.datetime_complete)
    if trial.state.is_finished():
        tags["state"] = trial.state.name
    tags["direction"] = directions if len(directions) != 1 else directions[0]
    tags.update({f"{key}_distribution": str(dist) for key, dist in trial.distributions.items()})
    user_attrs = dict(trial.user_attrs)
    if tag_trial_user_attrs:
        tags.update({k: v for k, v in user_attrs.items() if k not in _BOOKKEEPING})
    if tag_study_user_attrs:
        tags.update(study.user_attrs)
    if trial.state.name == "FAIL":
        tags[FAIL_REASON_ATTRIBUTE_KEY] = user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, NO_ERROR_REASON)

    start_ms = _ms(trial.datetime_start, now_ms)
    end_ms = _ms(trial.datetime_complete, now_ms)
    metrics: dict[str, float] = {}
    series: dict[str, list[Any]] = {}
    reported = user_attrs.get(METRICS_ATTRIBUTE_KEY)
    if isinstance(reported, Mapping):
        metrics.update({str(k): float(v) for k, v in reported.items() if _is_number(v)})
        series.update({str(k): list(v) for k, v in reported.items() if isinstance(v, (list, tuple))})
    value_names = names
    step_name = names[0]
    if partial_values:
        step_name = names[0] + PARTIAL_SUFFIX
        if trial.state.name == "PRUNED":
            value_names = [name + PARTIAL_SUFFIX for name in names]
    if trial.values is not None:
        metrics.update({name: float(v) for name, v in zip(value_names, trial.values, strict=False)})
    step_metrics = [(step_name, float(v), int(step), start_ms) for step, v in sorted(trial.intermediate_values.items())]
    if step_metrics and step_name in metrics:
        # One history per metric: the value goes at the last step, and only if it is not already there.
        final, (_, last_value, last_step, _) = metrics.pop(step_name), step_metrics[-1]
        if final != last_value:
            step_metrics.append((step_name, final, last_step, end_ms))
    for name, values in series.items():
        step_metrics += [(name, float(v), step, end_ms) for step, v in enumerate(values) if _is_number(v)]
    return RunRecord(
        study_name=study.study_name,
        trial_number=trial.number,
        run_name=run_name if run_name is not None else str(trial.number),
        status=run_status(trial),
        start_ms=start_ms,
        end_ms=end_ms,
        tags={str(k): truncate(v, MAX_TAG_VAL_LENGTH) for k, v in tags.items()},
        params={str(k): truncate(v, MAX_PARAM_VAL_LENGTH) for k, v in (params or trial.params).items()},
        metrics=metrics,
        step_metrics=step_metrics,
        run_id=user_attrs.get(RUN_ID_ATTRIBUTE_KEY),
    )


def run_status(trial: optuna.trial.FrozenTrial) -> str:
    """The MLflow status of a trial's run: KILLED for pruned and interrupted trials, FAILED for failed ones."""
    if trial.state.name == "FAIL" and str(trial.user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, "")).startswith(
        INTERRUPTED_REASON
    ):
        return "KILLED"
    return _STATUS.get(trial.state.name, "RUNNING")


def record_failures(objective: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an objective so a trial that raises keeps its error, for its run's ``fail_reason`` tag."""

    @functools.wraps(objective)
    def wrapper(trial: optuna.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        from optuna.exceptions import TrialPruned

        try:
            return objective(trial, *args, **kwargs)
        except TrialPruned:
            raise
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                reason = f"{INTERRUPTED_REASON} ({type(error).__name__})"
            else:
                reason = f"{type(error).__name__}: {error}".strip().rstrip(":")
            trial.set_user_attr(FAIL_REASON_ATTRIBUTE_KEY, truncate(reason, MAX_TAG_VAL_LENGTH))
            raise

    return wrapper


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
