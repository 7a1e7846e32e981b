"""Predictions of a logged model, for a CSV file (``search predict``) or a JSON request (the CML model).

A model is named the MLflow way (``models:/knn-clf@champion``, ``models:/knn-clf/3``,
``models:/<logged model id>``, ``runs:/<run id>/model``) or by the study whose best model it is.
Both inputs are checked against the model's signature the same way, so a bad
row is one clear line, never a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import numeric_columns
from search.deliverable.best_model import BEST_MODEL_TAG
from search.deliverable.loading import describe, load_estimator
from search.errors import InputError
from search.stores.optuna_storage import load_study
from search.text import one_line
from search.tracking import STUDY_RUN_ATTRIBUTE_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd
    from sklearn.pipeline import Pipeline

    from search.stores.urls import Store

#: MLflow's model URI schemes; anything else is taken for a study's name.
URI_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/", "file:/", "s3:/", "gs:/", "wasbs:/")


def model_uri(reference: str, tracking: Store, storage: Store) -> str:
    """The MLflow URI ``reference`` stands for: itself, or the best model of the study it names."""
    if reference.startswith(URI_SCHEMES):
        return reference
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    study = load_study(reference, storage)
    run_id = study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY)
    try:
        model_id = MlflowClient(tracking.url).get_run(run_id).data.tags.get(BEST_MODEL_TAG) if run_id else None
    except MlflowException as error:
        raise InputError(f"cannot read study {reference!r}'s run from {tracking}: {one_line(error)}") from None
    if not model_id:
        raise InputError(f"study {reference!r} has no best model logged yet: run 'search study' on it "
                         "(without --no-log-model)")
    return f"models:/{model_id}"


@dataclass(frozen=True)
class LoadedModel:
    """A logged scikit-learn model and the feature columns its signature takes, in order."""

    estimator: Pipeline
    columns: list[str]

    def predict(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """The prediction (and each class's probability) per row of ``frame``.

        ``frame`` must have exactly the model's columns, in any order; ``source`` names it in errors.
        """
        import pandas as pd

        columns = self.columns
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{source} lacks the model's column(s) {', '.join(map(str, missing[:10]))} "
                             f"(it takes: {', '.join(map(str, columns))})")
        extra = [str(c) for c in frame.columns if c not in columns]
        if extra:
            raise InputError(f"{source} has column(s) the model does not take: {', '.join(extra[:10])} "
                             f"(it takes: {', '.join(map(str, columns))}); drop them, e.g. the label")
        features = _numbers_checked(frame[columns], self.estimator, source)
        try:
            out = pd.DataFrame({"prediction": self.estimator.predict(features)})
            if hasattr(self.estimator, "predict_proba"):
                probabilities = self.estimator.predict_proba(features)
                for index, label in enumerate(self.estimator.classes_):
                    out[f"{PROBABILITY_PREFIX}{label}"] = probabilities[:, index]
        except (ValueError, TypeError) as error:  # e.g. text in a numeric column, an infinite value
            raise InputError(f"cannot predict {source}: {one_line(error)}") from None
        return out


def _numbers_checked(features: pd.DataFrame, estimator: Any, source: str) -> pd.DataFrame:
    """``features`` with the model's numeric columns as numbers (blanks missing), or a one-line `InputError`."""
    import pandas as pd

    features = features.copy()
    for column in numeric_columns(estimator):
        values = features[column].replace("", None)
        if values.map(lambda value: isinstance(value, bool)).any():
            raise InputError(f"{source} has true/false in the numeric column {column!r}: give a number")
        numbers = pd.to_numeric(values, errors="coerce")
        if (numbers.isna() & values.notna()).any():
            raise InputError(f"{source} has text in the numeric column {column!r}")
        features[column] = numbers.astype(float)
    return features


#: Each class's probability is the column ``probability_<class>`` of a prediction.
PROBABILITY_PREFIX = "probability_"
#: What a prediction request may look like, said in every error about its shape.
REQUEST_FORMS = ('send {"features": [[value, ...], ...]} (each row in the model\'s column order) '
                 'or {"records": [{"column": value, ...}, ...]}')


def load_model(uri: str, *, trust_unsafe: bool = False) -> LoadedModel:
    """The model at ``uri`` (read from the current tracking URI), loaded safely, or a one-line `InputError`.

    Only a skops model of known types loads, unless ``trust_unsafe`` (see `search.deliverable.loading`).
    """
    from mlflow.exceptions import MlflowException

    try:
        model, folder = describe(uri)
        signature = model.signature
        estimator = load_estimator(uri, model, folder, trust_unsafe=trust_unsafe)
    except (MlflowException, OSError) as error:
        raise InputError(f"cannot load model {uri}: {one_line(error)}") from None
    except ImportError as error:  # a store whose client library is not installed (s3:// needs boto3)
        raise InputError(f"cannot load model {uri}: reading it needs the Python package {error.name!r}, "
                         "which is not installed (for s3://: pip install boto3)") from None
    if signature is None:
        raise InputError(f"model {uri} has no signature: log it with the columns it takes")
    return LoadedModel(estimator, list(signature.inputs.input_names()))


def predict_request(model: LoadedModel, body: Any) -> dict[str, Any]:
    """The answer to one JSON prediction request: predictions, class probabilities, classes.

    ``body`` is ``{"features": rows}`` (each row a list of values in the
    model's column order), ``{"records": [{column: value}, ...]}``, or that
    records list itself. Raises `InputError` (one line) for anything else.
    """
    out = model.predict(_request_frame(body, model.columns), "the request")
    answer: dict[str, Any] = {"predictions": out["prediction"].tolist()}
    if hasattr(model.estimator, "classes_"):
        answer["classes"] = model.estimator.classes_.tolist()
    if hasattr(model.estimator, "predict_proba"):  # an SVC classifies without probabilities
        answer["probabilities"] = out.filter(like=PROBABILITY_PREFIX).to_numpy().tolist()
    return answer


def _request_frame(body: Any, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    if isinstance(body, dict) and "features" in body and "records" in body:
        raise InputError(f"the request has both 'features' and 'records': give one; {REQUEST_FORMS}")
    if isinstance(body, dict) and "features" in body:
        rows = body["features"]
        if isinstance(rows, list) and rows and not isinstance(rows[0], list):
            rows = [rows]  # one row given flat
        if not isinstance(rows, list) or not rows:
            raise InputError(f"'features' must be a non-empty list of rows; {REQUEST_FORMS}")
        for number, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                width = len(row) if isinstance(row, list) else "no list of"
                raise InputError(f"row {number} has {width} values; the model takes {len(columns)}: "
                                 f"{', '.join(map(str, columns))}")
            _check_values(number, zip(columns, row, strict=True))
        return _numeric(pd.DataFrame(rows, columns=columns))
    records = body.get("records") if isinstance(body, dict) else body
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise InputError(f"no rows to predict: {REQUEST_FORMS}")
    for number, record in enumerate(records):
        _check_values(number, record.items())
    return _numeric(pd.DataFrame.from_records(records))


#: The largest whole number a request may hold: what a model's float64 columns take without overflow.
LARGEST_NUMBER = 2**1023


def _check_values(number: int, values: Iterable[tuple[Any, Any]]) -> None:
    """Each value of row ``number`` a number, text, true/false or null, or a one-line `InputError` naming it."""
    for column, value in values:
        if isinstance(value, (dict, list)):
            kind = "an object" if isinstance(value, dict) else "a list"
            raise InputError(f"row {number}, {str(column)!r}: {kind} is not a value (give a number, text, "
                             "true/false or null)")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > LARGEST_NUMBER:
            raise InputError(f"row {number}, {str(column)!r}: a number of {len(str(abs(value)))} digits is "
                             "too large for the model")


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """JSON's null as a missing number (not text), so the check says "missing values"."""
    import pandas as pd

    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and all(v is None or type(v) in (int, float) for v in values):
            frame[column] = pd.to_numeric(values)
    return frame


#: What makes a spreadsheet read a cell as a formula (OWASP's CSV injection guidance).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(predictions: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` with every text cell a spreadsheet would run as a formula (``=1+2``, ``@SUM(A1:A9)``)
    written with a leading ``'``, as OWASP advises; numbers (``-3.5``) are left as they are."""

    def safe(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
            return "'" + value
        return value

    from pandas.api.types import is_numeric_dtype

    text = [column for column in predictions.columns if not is_numeric_dtype(predictions[column])]
    return predictions.assign(**{column: predictions[column].map(safe) for column in text})


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
