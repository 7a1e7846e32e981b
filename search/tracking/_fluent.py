"""`MLflowCallback.track_in_mlflow`: ``mlflow.log_*`` calls inside an objective go to the trial's own run."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from search.common.mlflow_client import PARENT_TAG
from search.common.mlflow_compat import active_experiment_id
from search.tracking._records import RUN_ID_ATTRIBUTE_KEY, record_failures

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient


def in_trial_run(
    func: Callable,
    *,
    client: Callable[[], MlflowClient],
    destination: Callable[[optuna.study.Study], tuple[str, str | None]],
    tags: Callable[[], Mapping[str, str]],
    run_name: str | None,
    tracking_uri: str | None,
    lock: threading.RLock,
) -> Callable:
    """``func`` (an objective) running inside its trial's run, which the callback completes when the trial ends.

    The run is created when the trial starts and its id kept on the trial
    (``mlflow_run_id`` user attr), so the callback finds and completes that run.
    """
    import mlflow

    @functools.wraps(func)
    @record_failures
    def wrapper(trial: optuna.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        experiment_id, parent_run_id = destination(trial.study)
        run_tags = dict(tags())
        if parent_run_id is not None:
            run_tags[PARENT_TAG] = parent_run_id
        run = client().create_run(experiment_id, tags=run_tags, run_name=run_name or str(trial.number))
        trial.set_user_attr(RUN_ID_ATTRIBUTE_KEY, run.info.run_id)
        with lock:
            if tracking_uri is not None:
                mlflow.set_tracking_uri(tracking_uri)
            # MLflow refuses to resume a run of another experiment than the process's active one (one setting
            # for every thread): make the study's experiment the active one, as optuna-integration's callback did.
            if active_experiment_id() != experiment_id:
                mlflow.set_experiment(experiment_id=experiment_id)
        with mlflow.start_run(run_id=run.info.run_id, nested=mlflow.active_run() is not None):
            return func(trial, *args, **kwargs)

    return wrapper
