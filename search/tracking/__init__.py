"""MLflow tracking for Optuna studies: our own `MLflowCallback`.

A library: it imports nothing from the rest of the toolkit but `search.common`
(helper processes, local store files, one-line and masked text, MLflow client
helpers: what the application uses too), and importing it does not import
MLflow (the callback does when it first logs). Its public face is the
callback, the decorator that keeps a failed trial's error, and the names of
what it records; the application imports nothing else of it.

Example::

    import optuna
    from search.tracking import MLflowCallback, record_failures

    @record_failures                      # a failed trial's run keeps its error
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    callback = MLflowCallback(tracking_uri="sqlite:///mlflow.db", metric_name="loss", study_run=True)
    study = optuna.create_study(study_name="demo")
    study.optimize(objective, n_trials=20, callbacks=[callback])
    callback.close()                      # everything queued is written
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search.tracking._callback import MLflowCallback
    from search.tracking._outage import UNLOGGED_ATTRIBUTE_KEY, UnloggedTrialsWarning
    from search.tracking._reconcile import SyncReport
    from search.tracking._records import (
        FAIL_REASON_ATTRIBUTE_KEY,
        INTERRUPTED_REASON,
        METRICS_ATTRIBUTE_KEY,
        PARTIAL_SUFFIX,
        RUN_ID_ATTRIBUTE_KEY,
        record_failures,
    )
    from search.tracking._study_run import STUDY_RUN_ATTRIBUTE_KEY

#: Where each public name lives: loaded when first used (PEP 562), so the app's use of one helper
#: (``search.common.lines``) does not load the callback and everything below it.
_HOMES = {
    "MLflowCallback": "_callback",
    "UNLOGGED_ATTRIBUTE_KEY": "_outage",
    "UnloggedTrialsWarning": "_outage",
    "SyncReport": "_reconcile",
    "FAIL_REASON_ATTRIBUTE_KEY": "_records",
    "INTERRUPTED_REASON": "_records",
    "METRICS_ATTRIBUTE_KEY": "_records",
    "PARTIAL_SUFFIX": "_records",
    "RUN_ID_ATTRIBUTE_KEY": "_records",
    "record_failures": "_records",
    "STUDY_RUN_ATTRIBUTE_KEY": "_study_run",
}

__all__ = [
    "FAIL_REASON_ATTRIBUTE_KEY",
    "INTERRUPTED_REASON",
    "METRICS_ATTRIBUTE_KEY",
    "PARTIAL_SUFFIX",
    "RUN_ID_ATTRIBUTE_KEY",
    "STUDY_RUN_ATTRIBUTE_KEY",
    "UNLOGGED_ATTRIBUTE_KEY",
    "MLflowCallback",
    "SyncReport",
    "UnloggedTrialsWarning",
    "record_failures",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:  # every name of __all__ (a test checks)
        import importlib

        return getattr(importlib.import_module(f"search.tracking.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'search.tracking' has no attribute {name!r}")
