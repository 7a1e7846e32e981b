"""One fixed-parameter run, the original scripts' job: fit, score, log params, metrics and model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import DataShape, ModelSpec
from search.common.mlflow_client import ROLE_TAG
from search.common.mlflow_compat import run_context_tags
from search.data import DataSpec
from search.deliverable.champion import DIGEST_TAG, METRIC_TAG, SCORE_TAG, direction_tag, register_version
from search.deliverable.lineage import lineage, provenance_tags
from search.deliverable.logged_model import log_fitted_model
from search.errors import InputError
from search.evaluation import Scoring, evaluate, smallest_fold
from search.fit_process import run_fit
from search.names import check_name, check_registered_name
from search.seeds import check_seed, seed_or_drawn
from search.stores.tracking_store import experiment_id as find_experiment
from search.stores.tracking_store import prepare_tracking_store
from search.stores.urls import Store, resolve_tracking

if TYPE_CHECKING:
    from search.deliverable.champion import Registration

#: Fixed-parameter runs go to their own experiment, ``<model>-runs``, apart from the model's study.
RUNS_EXPERIMENT_SUFFIX = "-runs"


@dataclass
class RunOutcome:
    run_id: str
    experiment_id: str
    params: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    registration: Registration | None = None


def run_once(
    spec: ModelSpec,
    params: dict[str, Any],
    *,
    data: DataSpec | None = None,
    scoring: Scoring | None = None,
    seed: int | None = None,
    tracking: Store | str | None = None,
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
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    check_seed(seed)
    check_registered_name(register, log_model=log_model)
    experiment = experiment if experiment is not None else f"{spec.name}{RUNS_EXPERIMENT_SUFFIX}"
    check_name(experiment, "--experiment")
    data, scoring = data or DataSpec(), scoring or Scoring()
    dataset = data.load()
    scoring = scoring.for_task(dataset.task)
    scoring.check(dataset)
    shape = DataShape(fold_rows=smallest_fold(dataset, scoring), features=dataset.n_features)
    spec = spec.for_task(dataset.task, shape)
    params = spec.resolve(params)
    problem = spec.cannot_fit(params, smallest_fold(dataset, scoring))
    if problem is not None:
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {problem} in {scoring.cv}-fold CV")
    seed = seed_or_drawn(seed)
    store = tracking if isinstance(tracking, Store) else resolve_tracking(tracking)
    prepare_tracking_store(store)
    started = int(time.time() * 1000)
    try:
        pipeline = spec.build(params, seed, dataset.columns)
        result = run_fit(lambda send: evaluate(pipeline, dataset, scoring))  # Ctrl-C stops it, whatever it runs
    except ValueError as error:  # e.g. n_neighbors > samples
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {error}") from None
    experiment_id = find_experiment(store, experiment)
    data_lineage = lineage(dataset)
    settings = {"data": data.label, "task": dataset.task, "metric": scoring.metric, "cv": scoring.cv, "seed": seed}
    tags = {**run_context_tags(), **provenance_tags(), **data_lineage.tags(), ROLE_TAG: "run", "model": spec.name}
    client = MlflowClient(store.url)
    run_id = client.create_run(experiment_id, start_time=started, tags=tags, run_name=f"{spec.name}-run").info.run_id
    outcome = RunOutcome(run_id, experiment_id, params, seed, result.metrics)
    metrics = dict(result.metrics)
    status = "FAILED"
    try:
        data_lineage.log(client, run_id)
        if log_model:
            scores = {k: v for k, v in metrics.items() if k.startswith(("train_", "test_", "cv_"))}
            model_id = log_fitted_model(store, run_id, experiment_id, result.model, spec, dataset, scores,
                                        data_lineage)
            metrics = {k: v for k, v in metrics.items() if k not in scores}  # logged with the model
            if register is not None:
                version_tags = {"run": run_id, METRIC_TAG: scoring.cv_name, SCORE_TAG: result.cv_score,
                                "test_score": result.metrics[f"test_{scoring.name}"],
                                DIGEST_TAG: data_lineage.digest, **direction_tag(scoring)}
                outcome.registration = register_version(client, register, model_id, run_id, version_tags)
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                         params=[Param(k, str(v)) for k, v in {**params, **settings}.items()])
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status=status)
    return outcome
