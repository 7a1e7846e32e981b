"""Model definitions: what the toolkit can tune.

A model is a `ModelSpec` registered under the ``search.models`` entry-point
group. The built-in ones (`models.knn`, `models.random_forest`) register the
same way a third-party package does, see ``pyproject.toml``.
"""

from models._params import Categorical, Float, Int, Param, ParamError
from models._space import SearchSpace
from models._spec import ModelSpec

__all__ = ["Categorical", "Float", "Int", "ModelSpec", "Param", "ParamError", "SearchSpace"]
