"""MLflow tracking for Optuna studies: our own `MLflowCallback`.

A library: it imports nothing from the rest of the toolkit, and importing it
does not import MLflow (the callback does when it first logs).

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

from search.tracking._callback import UNLOGGED_ATTRIBUTE_KEY, MLflowCallback, UnloggedTrialsWarning
from search.tracking._client import (
    ROLE_TAG,
    STUDY_TAG,
    WriteError,
    get_or_create_experiment,
    mask,
    numbers_text,
    one_line,
    quote,
    run_context_tags,
)
from search.tracking._processes import process_context
from search.tracking._records import (
    FAIL_REASON_ATTRIBUTE_KEY,
    INTERRUPTED_REASON,
    METRICS_ATTRIBUTE_KEY,
    PARTIAL_SUFFIX,
    RUN_ID_ATTRIBUTE_KEY,
    RunRecord,
    record_failures,
)
from search.tracking._study_run import STUDY_RUN_ATTRIBUTE_KEY
from search.tracking._sync import SyncReport
from search.tracking._writer import RunWriter

__all__ = [
    "FAIL_REASON_ATTRIBUTE_KEY",
    "INTERRUPTED_REASON",
    "METRICS_ATTRIBUTE_KEY",
    "PARTIAL_SUFFIX",
    "ROLE_TAG",
    "RUN_ID_ATTRIBUTE_KEY",
    "STUDY_RUN_ATTRIBUTE_KEY",
    "STUDY_TAG",
    "UNLOGGED_ATTRIBUTE_KEY",
    "MLflowCallback",
    "RunRecord",
    "RunWriter",
    "SyncReport",
    "UnloggedTrialsWarning",
    "WriteError",
    "get_or_create_experiment",
    "mask",
    "numbers_text",
    "one_line",
    "process_context",
    "quote",
    "record_failures",
    "run_context_tags",
]
