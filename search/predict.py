"""Predictions of a logged model for a CSV file: how a user checks a tuned model without writing Python.

A model is named the MLflow way (``models:/knn-clf@champion``, ``models:/knn-clf/3``,
``models:/<logged model id>``, ``runs:/<run id>/model``) or by the study whose best model it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from search.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: MLflow's model URI schemes; anything else is taken for a study's name.
URI_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/", "file:/", "s3:/", "gs:/", "wasbs:/")


def model_uri(reference: str, tracking_uri: str, storage: str) -> str:
    """The MLflow URI ``reference`` stands for: itself, or the best model of the study it names."""
    if reference.startswith(URI_SCHEMES):
        return reference
    from mlflow import MlflowClient

    from search.best_model import BEST_MODEL_TAG
    from search.cli.results import load_study
    from search.tracking import STUDY_RUN_ATTRIBUTE_KEY

    study = load_study(reference, storage)
    run_id = study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY)
    model_id = MlflowClient(tracking_uri).get_run(run_id).data.tags.get(BEST_MODEL_TAG) if run_id else None
    if not model_id:
        raise InputError(f"study {reference!r} has no best model logged yet: run 'search study' on it "
                         "(without --no-log-model)")
    return f"models:/{model_id}"


def predict_csv(uri: str, path: Path) -> pd.DataFrame:
    """The model's prediction (and class probabilities) for each row of the CSV file at ``path``.

    The file must have exactly the columns the model was trained on (in any order).
    """
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from search.data import check_numeric, read_features
    from search.tracking import one_line

    frame = read_features(path)
    try:
        columns = mlflow.models.get_model_info(uri).signature.inputs.input_names()
        model = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as error:
        raise InputError(f"cannot load model {uri}: {one_line(error)}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks the model's column(s) {', '.join(map(str, missing[:10]))} "
                         f"(it takes: {', '.join(map(str, columns))})")
    extra = [str(c) for c in frame.columns if c not in columns]
    if extra:
        raise InputError(f"{path} has column(s) the model does not take: {', '.join(extra[:10])} "
                         f"(it takes: {', '.join(map(str, columns))}); drop them, e.g. the label")
    features = frame[columns]
    check_numeric(features, path)
    out = pd.DataFrame({"prediction": model.predict(features)})
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(features)
        for index, label in enumerate(model.classes_):
            out[f"probability_{label}"] = probabilities[:, index]
    return out
