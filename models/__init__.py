"""Model definitions: what the toolkit can tune.

A model is a `ModelSpec` registered under the ``search.models`` entry-point
group. The built-in ones (`models.knn`, `models.random_forest`) register the
same way a third-party package does, see ``pyproject.toml``.
"""

from models._params import Categorical, Float, Int, Param, ParamError
from models._preprocess import PREPROCESSING_TYPES, Columns, Encoding, Needs, numeric_columns
from models._space import MODEL_DIMENSION, PREFIX_SEPARATOR, SearchSpace
from models._spec import DataShape, ModelSpec

__all__ = [
    "MODEL_DIMENSION",
    "PREFIX_SEPARATOR",
    "PREPROCESSING_TYPES",
    "Categorical",
    "Columns",
    "DataShape",
    "Encoding",
    "Float",
    "Int",
    "ModelSpec",
    "Needs",
    "Param",
    "ParamError",
    "SearchSpace",
    "numeric_columns",
]
