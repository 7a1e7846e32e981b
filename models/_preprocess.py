"""The preprocessing in front of a model, built from the data's columns and what the model needs.

A table arrives as it is: numbers, strings, booleans, blanks. Which columns
are which is the data's business (`Columns`, filled in by `search.data`);
what a model needs done to them is its own (`Needs`, declared in its
`ModelSpec`). `preprocessor` joins the two into one scikit-learn
``ColumnTransformer``, so the pipeline that is tuned, logged and served takes
raw rows exactly like the table's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer

#: Types a fitted preprocessing holds that MLflow's skops format must trust to load it again.
PREPROCESSING_TYPES = ("numpy.dtype", "models._preprocess._to_text")
#: An ordinal-encoded column keeps its most frequent categories up to this many (boosting's bins hold 255).
MAX_CODES = 250
#: A one-hot encoded column keeps its most frequent categories up to this many; rarer ones share one column.
MAX_ONE_HOT_CATEGORIES = 20


class Encoding(StrEnum):
    """How a model takes categorical columns."""

    one_hot = "one-hot"  # a 0/1 column per category: distance- and weight-based models
    ordinal = "ordinal"  # one integer code per category: trees split on it
    native = "native"  # integer codes the estimator is told are categories (``categorical_features``)


@dataclass(frozen=True)
class Needs:
    """What a model needs done to a table before it can fit it.

    Args:
        scale: Numeric columns standardised (distances, penalties and kernels depend on scale).
        encoding: How categorical columns are encoded.
        impute: Blanks filled in (numbers by the median, categories as their own "missing" value);
            ``False`` for estimators that take missing values themselves.
        categorical_param: The estimator argument told which columns are categorical (``Encoding.native``).
    """

    scale: bool = True
    encoding: Encoding = Encoding.one_hot
    impute: bool = True
    categorical_param: str | None = None


@dataclass(frozen=True)
class Columns:
    """The roles of a table's feature columns; columns in neither list are dropped (``dropped`` says why)."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    dropped: Mapping[str, str] = field(default_factory=dict)


def preprocessor(columns: Columns, needs: Needs) -> ColumnTransformer:
    """The ``ColumnTransformer`` that turns ``columns`` into what a model with ``needs`` fits on.

    Its output is categorical columns first, then numeric ones (so `categorical_mask` can name them).
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    parts = []
    if columns.categorical:
        if needs.encoding == Encoding.one_hot:
            encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONE_HOT_CATEGORIES,
                                    sparse_output=False)
        else:  # an unseen category is a missing value, which every estimator taking codes handles
            encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                     encoded_missing_value=np.nan, max_categories=MAX_CODES)
        steps = [_as_text(), encoder]
        if needs.impute:
            steps.insert(1, SimpleImputer(strategy="constant", fill_value="missing"))
            if needs.encoding != Encoding.one_hot:
                steps.append(SimpleImputer(strategy="constant", fill_value=-1))  # unseen categories
        parts.append(("categorical", make_pipeline(*steps), list(columns.categorical)))
    if columns.numeric:
        steps = ([SimpleImputer(strategy="median", keep_empty_features=True)] if needs.impute else []) + (
            [StandardScaler()] if needs.scale else [])
        parts.append(("numeric", make_pipeline(*steps) if steps else "passthrough", list(columns.numeric)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def numeric_columns(pipeline: object) -> list[str]:
    """The columns a fitted pipeline of ours takes as numbers (none for a pipeline without our preprocessing)."""
    prepare = getattr(pipeline, "named_steps", {}).get("prepare")
    found = [list(cols) for name, _, cols in getattr(prepare, "transformers_", []) if name == "numeric"]
    return found[0] if found else []


def categorical_mask(columns: Columns) -> list[bool]:
    """Which of `preprocessor`'s output columns are categorical (for ordinal or native encoding)."""
    return [True] * len(columns.categorical) + [False] * len(columns.numeric)


def _as_text() -> FunctionTransformer:
    """Categories as strings (a boolean and a string column alike), blanks kept as missing."""
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(_to_text, feature_names_out="one-to-one")


def _to_text(frame: pd.DataFrame | np.ndarray) -> np.ndarray:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(frame)
    text = frame.astype(object).to_numpy().astype(str).astype(object)
    text[pd.isna(frame).to_numpy()] = np.nan
    return text
