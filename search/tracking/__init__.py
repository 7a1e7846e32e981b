"""MLflow tracking for Optuna studies: our own `MLflowCallback`.

Importing this package does not import MLflow; the callback does when it first logs.
"""

from search.tracking._callback import MLflowCallback, UnloggedTrialsWarning
from search.tracking._records import METRICS_ATTRIBUTE_KEY, RUN_ID_ATTRIBUTE_KEY, record_failures

__all__ = [
    "METRICS_ATTRIBUTE_KEY",
    "RUN_ID_ATTRIBUTE_KEY",
    "MLflowCallback",
    "UnloggedTrialsWarning",
    "record_failures",
]
