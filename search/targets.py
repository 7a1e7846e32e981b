"""A table's target checked for its task, and its train/test split for its size: one line each, in our words.

scikit-learn would refuse the same data later, in its own terms ("continuous is
not supported", "train_size = 1 should be greater or equal to the number of
classes"), or not at all (a boolean fitted as a quantity).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from search import defaults
from search.defaults import Task
from search.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: How a CSV file spells a boolean: such a target is two classes, never a quantity.
BOOLEAN = {"true", "false"}


def checked_target(target: pd.Series, task: Task, description: str, name: str) -> pd.Series:
    """The target as ``task`` needs it, or a one-line `DataError`."""
    import numpy as np
    import pandas as pd

    if task == Task.regression:
        values = target.dropna()
        if pd.api.types.is_bool_dtype(values) or (len(values) and set(values.astype(str).str.lower()) <= BOOLEAN):
            raise DataError(f"{description}: {name!r} holds true/false values, not a quantity: "
                            "a regression needs numbers (leave --task out to classify them)")
        y = pd.to_numeric(target, errors="coerce")
        if y.isna().any() or not np.isfinite(y.to_numpy(dtype=float)).all():
            raise DataError(f"{description}: regression needs a number in every row of {name!r}")
        return y.astype(float)
    y = target
    fractions = pd.api.types.is_float_dtype(y) and bool((y.dropna() % 1 != 0).any())
    if fractions or (y.dtype == object and not all(isinstance(value, str) for value in y.dropna())):
        # Labels scikit-learn takes for quantities (fractions, with --task classification), numpy cannot hold
        # (integers past 64 bits) or of mixed kinds: as text, each value is a class.
        y = y.map(lambda value: value if pd.isna(value) else str(value))
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(f"{description} has only one class: a classifier needs at least two")
    single = counts[counts < 2]
    if len(single):
        numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
        hint = (f"; with {len(counts)} distinct values, is it a quantity? then --task regression" if numeric
                else "; add rows of that class, or leave its row out")
        which = f"class {str(single.index[0])!r} has" if len(single) == 1 else \
            f"{len(single)} classes have (e.g. {str(single.index[0])!r})"
        raise DataError(f"{description}: {which} a single row in {name!r}, and a class needs two "
                        f"to be in both the train and the test split{hint}")
    return y


def check_split(y: pd.Series, task: Task, test_size: float, description: str) -> None:
    """Refuse a ``--test-size`` that leaves a side of the split too small, in our words, not scikit-learn's."""
    rows = len(y)
    test = math.ceil(rows * test_size)
    train = rows - test
    classes = y.nunique() if task == Task.classification else 1
    if min(train, test) < max(classes, 2 if task == Task.regression else 1) or train < 2:
        need = f"at least one row of each of its {classes} classes" if task == Task.classification else "two rows"
        raise DataError(f"--test-size {test_size} splits the {rows} rows of {description} into {train} to train "
                        f"on and {test} to test: each side needs {need} (try --test-size {defaults.TEST_SIZE})")
