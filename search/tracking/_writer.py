"""Writing run records through an explicit `MlflowClient`: the fewest round trips MLflow allows.

A new trial costs three calls: ``create_run`` (with every tag), one
``log_batch`` (params and metrics; the client splits it at MLflow's limits)
and ``set_terminated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search.common.lines import one_line
from search.common.mlflow_client import PARENT_TAG
from search.tracking._records import RunRecord

#: A trial across studies and storages: its study's name and its number.
Key = tuple[str, int]


@dataclass
class RunUpdate:
    """Extra metrics and tags for an existing run (the study run's best-so-far)."""

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    step: int = 0
    timestamp_ms: int = 0


#: Errors that mean "the store is unreachable or failing now" rather than "this write is wrong".
_OUTAGE_TYPES = frozenset(
    ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "OperationalError", "TimeoutError",
     "BrokenPipeError")
)


class WriteError(Exception):
    """A write MLflow did not take, with whether it was an outage (retry later) or a refusal (report now).

    Plain and picklable, so a writer process can send it back.
    """

    def __init__(self, message: str, *, outage: bool) -> None:
        super().__init__(message)
        self.message, self.outage = message, outage

    def __reduce__(self) -> tuple:
        return _write_error, (self.message, self.outage)

    def __str__(self) -> str:
        return self.message


def _write_error(message: str, outage: bool) -> WriteError:  # noqa: FBT001 - unpickling passes args positionally
    return WriteError(message, outage=outage)


def as_write_error(error: BaseException) -> WriteError:
    """Classify ``error``: connection errors, timeouts and 5xx answers are outages; the rest refusals."""
    if isinstance(error, WriteError):
        return error
    status = getattr(error, "get_http_status_code", None)
    if callable(status):
        outage = status() >= 500
    else:
        names = {cls.__name__ for cls in type(error).__mro__}
        outage = bool(names & _OUTAGE_TYPES) or isinstance(error, OSError)
    return WriteError(one_line(error), outage=outage)


#: What writing one record came to: its trial's key (None for an update) and the run id, or why not.
Outcome = tuple[Key | None, str | WriteError]


class RunWriter:
    """Applies `RunRecord` and `RunUpdate` objects to one tracking store."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri)

    def write(self, record: RunRecord, experiment_id: str, parent_run_id: str | None = None) -> str:
        """Create (or complete, when ``record.run_id`` is set) the trial's run; returns its id."""
        from mlflow.entities import Metric, Param, RunTag

        tags = dict(record.tags)
        if parent_run_id is not None:
            tags[PARENT_TAG] = parent_run_id
        if record.run_id is None:
            run = self.client.create_run(experiment_id, start_time=record.start_ms, tags=tags, run_name=record.run_name)
            run_id, tags = run.info.run_id, {}
        else:
            run_id = record.run_id
        stepped = {key for key, *_ in record.step_metrics}
        metrics = [Metric(k, v, record.end_ms, 0) for k, v in record.metrics.items() if k not in stepped]
        metrics += [Metric(k, v, ts, step) for k, v, step, ts in record.step_metrics]
        self.client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in record.params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        self.client.set_terminated(run_id, status=record.status, end_time=record.end_ms)
        return run_id

    def update(self, update: RunUpdate) -> None:
        from mlflow.entities import Metric, RunTag

        self.client.log_batch(
            update.run_id,
            metrics=[Metric(k, v, update.timestamp_ms, update.step) for k, v in update.metrics.items()],
            tags=[RunTag(k, v) for k, v in update.tags.items()],
        )
