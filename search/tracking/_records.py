"""Turning a finished Optuna trial into what its MLflow run should hold.

A `RunRecord` is plain, picklable data computed in the optimising thread, so
it can be written by that thread or shipped to a writer process unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

#: Trial system attribute holding the id of the trial's MLflow run.
RUN_ID_ATTRIBUTE_KEY = "mlflow_run_id"
#: Trial system attribute holding a failed trial's error (Optuna 5 no longer keeps it).
FAIL_REASON_ATTRIBUTE_KEY = "fail_reason"
#: Trial user attribute: a ``{name: number}`` dict logged as MLflow metrics, not tags.
#: Lets an objective record extra scores without importing MLflow.
METRICS_ATTRIBUTE_KEY = "mlflow_metrics"

# MLflow's limits (mlflow.utils.validation); copied so building a record needs no mlflow import.
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAM_VAL_LENGTH = 6000

_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


@dataclass
class RunRecord:
    """Everything to write for one trial's run."""

    trial_id: int
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


def _ms(moment: Any, fallback: int) -> int:
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
    study_user_attrs: Mapping[str, Any] | None = None,
    now_ms: int,
) -> RunRecord:
    """The run for ``trial``: tags, params and metrics as optuna-integration logged them, plus state."""
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
    metrics: dict[str, float] = {}
    user_attrs = dict(trial.user_attrs)
    reported = user_attrs.pop(METRICS_ATTRIBUTE_KEY, None)
    if isinstance(reported, Mapping):
        metrics.update({str(k): float(v) for k, v in reported.items() if _is_number(v)})
    if tag_trial_user_attrs:
        tags.update(user_attrs)
    if tag_study_user_attrs:
        tags.update(study_user_attrs if study_user_attrs is not None else study.user_attrs)
    if trial.state.name == "FAIL" and FAIL_REASON_ATTRIBUTE_KEY in trial.system_attrs:
        tags["fail_reason"] = trial.system_attrs[FAIL_REASON_ATTRIBUTE_KEY]

    start_ms = _ms(trial.datetime_start, now_ms)
    end_ms = _ms(trial.datetime_complete, now_ms)
    step_metrics = [(names[0], float(v), int(step), start_ms) for step, v in sorted(trial.intermediate_values.items())]
    if trial.values is not None:
        metrics.update({name: float(v) for name, v in zip(names, trial.values)})
    final_step = step_metrics[-1][2] if step_metrics else 0
    return RunRecord(
        trial_id=trial._trial_id,
        trial_number=trial.number,
        run_name=run_name if run_name is not None else str(trial.number),
        status=_STATUS.get(trial.state.name, "FINISHED"),
        start_ms=start_ms,
        end_ms=end_ms,
        tags={str(k): truncate(v, MAX_TAG_VAL_LENGTH) for k, v in tags.items()},
        params={str(k): truncate(v, MAX_PARAM_VAL_LENGTH) for k, v in trial.params.items()},
        metrics=metrics,
        step_metrics=step_metrics + [(k, v, final_step, end_ms) for k, v in metrics.items() if k == names[0]]
        if step_metrics
        else [],
        run_id=trial.system_attrs.get(RUN_ID_ATTRIBUTE_KEY),
    )


def record_failures(objective: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an objective so a trial that raises keeps its error, for its run's ``fail_reason`` tag."""

    @functools.wraps(objective)
    def wrapper(trial: optuna.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        try:
            return objective(trial, *args, **kwargs)
        except Exception as error:
            if not type(error).__name__ == "TrialPruned":
                reason = f"{type(error).__name__}: {error}"
                trial.storage.set_trial_system_attr(trial._trial_id, FAIL_REASON_ATTRIBUTE_KEY, reason)
            raise

    return wrapper


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
