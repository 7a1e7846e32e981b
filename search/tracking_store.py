"""Getting the MLflow tracking store ready before any work is done.

An unreachable server should stop a command before it trains anything, with
one clear line; and a new sqlite store must be created and migrated exactly
once, even when several workers start at the same moment (MLflow's schema
creation races with itself).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from search.errors import SearchError
from search.locking import creating, sqlite_path
from search.urls import mask

HEALTH_TIMEOUT_SECONDS = 5.0


class TrackingError(SearchError):
    """The tracking store cannot be reached or opened."""


def prepare_tracking_store(tracking_uri: str) -> None:
    """Check the store answers; create and migrate a local database store once."""
    if tracking_uri.startswith(("http://", "https://")):
        _check_server(tracking_uri)
        return
    from mlflow import MlflowClient

    with creating(sqlite_path(tracking_uri)):
        try:
            MlflowClient(tracking_uri).search_experiments(max_results=1)
        except Exception as error:
            raise TrackingError(f"cannot open MLflow tracking store {mask(tracking_uri)}: {_first_line(error)}") from None


def experiment_id(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name`` in the store at ``tracking_uri``, created if missing."""
    from mlflow import MlflowClient

    return get_or_create_experiment(MlflowClient(tracking_uri), name)


def get_or_create_experiment(client: Any, name: str) -> str:
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


def _check_server(tracking_uri: str) -> None:
    url = tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise TrackingError(f"cannot reach MLflow tracking server {mask(tracking_uri)}: {problem}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return mask(text[0]) if text else type(error).__name__
