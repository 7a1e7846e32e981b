"""One fixed-parameter run, the original scripts' job: fit, score, log params, metrics and model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import ModelSpec
from search.data import DataSpec
from search.errors import InputError
from search.evaluation import Scoring
from search.seeds import check_seed, seed_or_drawn

if TYPE_CHECKING:
    from search.champion import Registration

#: Fixed-parameter runs go to their own experiment, ``<model>-runs``, apart from the model's study.
RUNS_EXPERIMENT_SUFFIX = "-runs"


@dataclass
class RunOutcome:
    run_id: str
    experiment_id: str
    params: dict[str, Any]
    metrics: dict[str, float]
    registration: Registration | None = None


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
    register: str | None = None,
) -> RunOutcome:
    """Fit ``spec`` with ``params`` (defaults filled in) and log one MLflow run of it.

    Everything is checked before the run is created; the run is ended whatever
    stops the process after that (FAILED on an error, KILLED on Ctrl-C). With
    ``register``, the model becomes a version of that registered model (and its
    ``champion`` if it scores higher on the same metric and data).
    """
    from search.best_model import check_registered_name
    from search.evaluation import evaluate, smallest_fold
    from search.lineage import lineage, provenance_tags
    from search.stores.mlflow import experiment_id as find_experiment
    from search.stores.mlflow import prepare_tracking_store
    from search.stores.urls import resolve_tracking_uri
    from search.tracking import ROLE_TAG, RunRecord, RunWriter, run_context_tags

    params = spec.resolve(params)
    check_seed(seed)
    check_registered_name(register, log_model)
    data, scoring = data or DataSpec(), scoring or Scoring()
    dataset = data.load()
    scoring.check(dataset)
    problem = spec.cannot_fit(params, smallest_fold(dataset, scoring))
    if problem is not None:
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {problem} in {scoring.cv}-fold CV")
    seed = seed_or_drawn(seed)
    uri = resolve_tracking_uri(tracking_uri)
    prepare_tracking_store(uri)
    started = int(time.time() * 1000)
    try:
        result = evaluate(spec.build(params, seed), dataset, scoring, named=True)
    except ValueError as error:  # e.g. n_neighbors > samples
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {error}") from None
    experiment_id = find_experiment(uri, experiment or f"{spec.name}{RUNS_EXPERIMENT_SUFFIX}")
    data_lineage = lineage(dataset)
    settings = {"data": data.label, "metric": scoring.metric, "cv": scoring.cv, "seed": seed}
    tags = {**run_context_tags(), **provenance_tags(), **data_lineage.tags(), ROLE_TAG: "run", "model": spec.name}
    record = RunRecord(
        study_name="", trial_number=0, run_name=f"{spec.name}-run", status="FINISHED", start_ms=started,
        end_ms=int(time.time() * 1000), tags=tags,
        params={k: str(v) for k, v in {**params, **settings}.items()}, metrics=result.metrics,
    )
    writer = RunWriter(uri)
    run = writer.client.create_run(experiment_id, start_time=started, tags=record.tags, run_name=record.run_name)
    record.run_id = run.info.run_id
    outcome = RunOutcome(record.run_id, experiment_id, params, result.metrics)
    status = "FAILED"
    try:
        data_lineage.log(writer.client, record.run_id)
        if log_model:
            from search.artifacts import log_fitted_model

            metrics = {k: v for k, v in result.metrics.items() if k.startswith(("train_", "test_", "cv_"))}
            model_id = log_fitted_model(uri, record.run_id, experiment_id, result.model, spec, dataset, metrics,
                                        data_lineage)
            record.metrics = {k: v for k, v in record.metrics.items() if k not in metrics}  # logged with the model
            if register is not None:
                from search.champion import DIGEST_TAG, METRIC_TAG, SCORE_TAG
                from search.champion import register as register_version

                version_tags = {"run": record.run_id, METRIC_TAG: scoring.cv_name, SCORE_TAG: result.cv_score,
                                "test_score": result.metrics[f"test_{scoring.metric}"],
                                DIGEST_TAG: data_lineage.digest}
                outcome.registration = register_version(writer.client, register, model_id, record.run_id,
                                                        version_tags)
        writer.write(record, experiment_id)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if status != "FINISHED":
            writer.client.set_terminated(record.run_id, status=status)
    return outcome
