"""One fixed-parameter run, the original scripts' job: fit, score, log params, metrics and model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from models import ModelSpec
from search.data import DataSpec
from search.errors import InputError
from search.evaluation import Scoring
from search.seeds import check_seed, seed_or_drawn

#: Fixed-parameter runs go to their own experiment, ``<model>-runs``, apart from the model's study.
RUNS_EXPERIMENT_SUFFIX = "-runs"


@dataclass
class RunOutcome:
    run_id: str
    experiment_id: str
    tracking_uri: str
    params: dict[str, Any]
    metrics: dict[str, float]


def run_once(
    spec: ModelSpec,
    params: dict[str, Any],
    *,
    data: DataSpec | None = None,
    scoring: Scoring | None = None,
    seed: int | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    log_model: bool = True,
) -> RunOutcome:
    """Fit ``spec`` with ``params`` (defaults filled in) and log one MLflow run of it.

    Everything is checked before the run is created; the run is ended whatever
    stops the process after that (FAILED on an error, KILLED on Ctrl-C).
    """
    from search.evaluation import evaluate
    from search.stores.mlflow import experiment_id as find_experiment
    from search.stores.mlflow import prepare_tracking_store
    from search.stores.urls import resolve_tracking_uri
    from search.tracking import ROLE_TAG, RunRecord, RunWriter, run_context_tags

    params = spec.resolve(params)
    check_seed(seed)
    data, scoring = data or DataSpec(), scoring or Scoring()
    dataset = data.load()
    scoring.check(dataset)
    seed = seed_or_drawn(seed)
    uri = resolve_tracking_uri(tracking_uri)
    prepare_tracking_store(uri)
    started = int(time.time() * 1000)
    try:
        result = evaluate(spec.build(params, seed), dataset, scoring)
    except ValueError as error:  # e.g. more folds than a class has samples, or n_neighbors > samples
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {error}") from None
    experiment_id = find_experiment(uri, experiment or f"{spec.name}{RUNS_EXPERIMENT_SUFFIX}")
    settings = {"data": data.label, "metric": scoring.metric, "cv": scoring.cv, "seed": seed}
    record = RunRecord(
        study_name="", trial_number=0, run_name=f"{spec.name}-run", status="FINISHED", start_ms=started,
        end_ms=int(time.time() * 1000), tags={**run_context_tags(), ROLE_TAG: "run", "model": spec.name},
        params={k: str(v) for k, v in {**params, **settings}.items()}, metrics=result.metrics,
    )
    writer = RunWriter(uri)
    run = writer.client.create_run(experiment_id, start_time=started, tags=record.tags, run_name=record.run_name)
    record.run_id = run.info.run_id
    status = "FAILED"
    try:
        if log_model:
            from search.artifacts import log_fitted_model

            log_fitted_model(uri, record.run_id, result.model, spec, dataset)
        writer.write(record, experiment_id)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if status != "FINISHED":
            writer.client.set_terminated(record.run_id, status=status)
    return RunOutcome(record.run_id, experiment_id, uri, params, result.metrics)
