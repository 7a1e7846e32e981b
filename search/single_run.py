"""One fixed-parameter run, the original scripts' job: fit, score, log params, metrics and model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models import ModelSpec
from search import tracking_store
from search.data import DEFAULT_DATA
from search.errors import InputError
from search.tracking._callback import ROLE_TAG
from search.urls import resolve_tracking_uri


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
    data: str = DEFAULT_DATA,
    target: str | None = None,
    test_size: float = 0.25,
    split_seed: int = 123,
    metric: str = "accuracy",
    cv: int = 5,
    seed: int | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    log_model: bool = True,
) -> RunOutcome:
    """Fit ``spec`` with ``params`` (defaults filled in), and log one MLflow run of it."""
    from search.data import load_dataset
    from search.evaluation import check_metric, evaluate

    params = spec.resolve(params)
    check_metric(metric)
    if cv < 2:
        raise InputError(f"--cv must be at least 2 folds, got {cv}")
    dataset = load_dataset(data, target, test_size, split_seed)
    uri = resolve_tracking_uri(tracking_uri)
    tracking_store.prepare_tracking_store(uri)
    experiment_id = tracking_store.experiment_id(uri, experiment or spec.name)

    try:
        result = evaluate(spec.build(params, seed), dataset, metric, cv)
    except ValueError as error:  # e.g. more folds than a class has samples, or n_neighbors > samples
        raise InputError(f"cannot evaluate {spec.name} on {dataset.source}: {error}") from None
    run_id = _log(spec, params, result, dataset, uri, experiment_id, log_model,
                  {"data": dataset.source, "metric": metric, "cv": cv, "seed": seed})
    return RunOutcome(run_id, experiment_id, uri, params, result.metrics)


def _log(spec, params, result, dataset, uri, experiment_id, log_model, settings) -> str:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from mlflow.models import infer_signature
    from mlflow.tracking.context.registry import resolve_tags

    client = MlflowClient(uri)
    tags = {**resolve_tags(), ROLE_TAG: "run", "model": spec.name}
    run = client.create_run(experiment_id, tags=tags, run_name=f"{spec.name}-run")
    run_id = run.info.run_id
    try:
        client.log_batch(
            run_id,
            params=[Param(k, str(v)) for k, v in {**params, **settings}.items()],
            metrics=[Metric(k, v, 0, 0) for k, v in result.metrics.items()],
        )
        if log_model:
            signature = infer_signature(dataset.X_train, result.model.predict(dataset.X_train[:5]))
            mlflow.set_tracking_uri(uri)
            with mlflow.start_run(run_id=run_id):
                mlflow.sklearn.log_model(
                    result.model,
                    name="model",
                    signature=signature,
                    skops_trusted_types=list(spec.skops_trusted_types) or None,
                )
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id
