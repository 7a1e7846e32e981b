"""How a study's task is told from its target, and what each task scores by default.

The rule, as the README states it: a target is a *regression* target when it is
numeric and either holds a fractional value or more than `MAX_CLASSES` distinct
values; anything else (strings, booleans, a few whole numbers) is a class label.
``--task`` overrides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from search import defaults
from search.defaults import Task

if TYPE_CHECKING:
    import pandas as pd

#: A numeric target with more distinct whole values than this is a quantity, not a label.
MAX_CLASSES = 20

#: The metric a study of each task optimises unless ``--metric`` says otherwise.
DEFAULT_METRIC = {Task.classification: defaults.METRIC, Task.regression: defaults.REGRESSION_METRIC}


def infer_task(target: pd.Series) -> Task:
    """The task ``target`` asks for, by the rule in this module's docstring."""
    import pandas as pd

    values = target.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return Task.classification
    fractional = bool((values.astype(float) % 1 != 0).any())
    return Task.regression if fractional or values.nunique() > MAX_CLASSES else Task.classification
