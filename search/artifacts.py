"""Logging a fitted model to a run: MLflow's scikit-learn flavour, safe skops format, signature, example."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models import ModelSpec
    from search.data import Dataset


def log_fitted_model(tracking_uri: str, run_id: str, model: Any, spec: ModelSpec, data: Dataset) -> None:
    """Log ``model`` (fitted on ``data``) as the ``model`` artifact of run ``run_id``."""
    import mlflow
    from mlflow.models import infer_signature

    signature = infer_signature(data.X_train, model.predict(data.X_train[:5]))
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            skops_trusted_types=list(spec.skops_trusted_types) or None,
        )
