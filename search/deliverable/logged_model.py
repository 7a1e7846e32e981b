"""Logging a fitted model: MLflow's scikit-learn flavour, the safe skops format, signature, input example.

The model becomes an MLflow *logged model* of the run (MLflow 3), with its
scores as the logged model's metrics, linked to the data they were measured on.
"""

from __future__ import annotations

import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from models import PREPROCESSING_TYPES

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from models import ModelSpec
    from search.data import Dataset
    from search.deliverable.lineage import Lineage
    from search.stores.urls import Store

#: The artifact name of a run's model (``runs:/<run id>/model``).
MODEL_NAME = "model"
#: What loading the model needs, pinned to what fitted it (MLflow would otherwise infer it, for seconds).
REQUIREMENTS = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


def requirements() -> list[str]:
    pinned = []
    for package in REQUIREMENTS:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pinned


#: Past this many feature columns no input example is logged (the signature still is): MLflow checks an
#: example by converting it column by column, 8 s for 10,000 columns.
INPUT_EXAMPLE_MAX_COLUMNS = 1_000

#: Tag on a logged model: the rows it was fitted on ("all 1,000 rows" or "the training split").
FITTED_ON_TAG = "fitted_on"


def log_fitted_model(
    tracking: Store,
    run_id: str,
    experiment_id: str,
    model: Pipeline,
    spec: ModelSpec,
    data: Dataset,
    metrics: dict[str, float],
    lineage: Lineage | None = None,
    fitted_on: str = "the training split",
) -> str:
    """Log ``model`` (fitted on ``data``'s named features) on run ``run_id``; its logged model's id.

    ``metrics`` become the logged model's (and the run's) metrics; a ``test_*``
    metric is linked to the test split, the others to the training split.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric
    from mlflow.models import infer_signature

    client = MlflowClient(tracking.url)
    example = data.features("train").iloc[:5]
    logged = client.create_logged_model(experiment_id, name=MODEL_NAME, source_run_id=run_id,
                                        tags={"model": spec.name, FITTED_ON_TAG: fitted_on})
    mlflow.set_tracking_uri(tracking.url)  # the flavour's logging reads MLflow's global URI
    with warnings.catch_warnings():  # integer labels: MLflow hints at missing values; predictions have none
        warnings.simplefilter("ignore", UserWarning)
        mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME,
            run_id=run_id,
            model_id=logged.model_id,
            signature=infer_signature(example, model.predict(example)),
            input_example=example if example.shape[1] <= INPUT_EXAMPLE_MAX_COLUMNS else None,
            skops_trusted_types=[*spec.skops_trusted_types, *PREPROCESSING_TYPES],
            pip_requirements=requirements(),
        )
    now = int(time.time() * 1000)
    linked = []
    for key, value in metrics.items():
        split = (lineage.test if key.startswith("test_") else lineage.training) if lineage is not None else None
        linked.append(Metric(key, value, now, 0, model_id=logged.model_id,
                             dataset_name=split["name"] if split is not None else None,
                             dataset_digest=split["digest"] if split is not None else None))
    client.log_batch(run_id, metrics=linked)
    return logged.model_id
