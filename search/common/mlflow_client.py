"""Conventions every part of the library shares with the MLflow store: its tags, filters and experiments."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: Tag marking the runs this library creates for a study ("study"), and the tag naming the study.
ROLE_TAG, STUDY_TAG = "search.role", "optuna.study_name"
#: The tag MLflow nests a run under its parent with.
PARENT_TAG = "mlflow.parentRunId"


def quote(text: str) -> str:
    """``text`` as a single-quoted string literal of an MLflow search filter."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name`` (restored if deleted), created if missing, also when workers race."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # created by a concurrent worker
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
