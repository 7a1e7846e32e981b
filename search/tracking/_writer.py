"""Writing run records through an explicit `MlflowClient`: the fewest round trips MLflow allows.

A new trial costs three calls: ``create_run`` (with every tag), one
``log_batch`` (params and metrics; the client splits it at MLflow's limits)
and ``set_terminated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search.tracking._records import RunRecord


@dataclass
class RunUpdate:
    """Extra metrics and tags for an existing run (the study run's best-so-far)."""

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    step: int = 0
    timestamp_ms: int = 0


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
            tags["mlflow.parentRunId"] = parent_run_id
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
