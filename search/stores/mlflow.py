"""The MLflow tracking store: checked before any work is done, created once, experiments found or made.

An unreachable server should stop a command before it trains anything, with
one clear line; and a new sqlite store must be created and migrated exactly
once, even when several workers start at the same moment (MLflow's schema
creation races with itself).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from search.errors import SearchError
from search.stores.lock import creating
from search.stores.urls import is_server, mask, sqlite_path

HEALTH_TIMEOUT_SECONDS = 5.0


class TrackingError(SearchError):
    """The tracking store cannot be reached or opened."""


def prepare_tracking_store(tracking_uri: str) -> None:
    """Check the store answers; create and migrate a local database store once."""
    if is_server(tracking_uri):
        _check_server(tracking_uri)
        return
    from mlflow import MlflowClient

    with creating(sqlite_path(tracking_uri)):
        try:
            MlflowClient(tracking_uri).search_experiments(max_results=1)
        except Exception as error:
            raise TrackingError(
                f"cannot open MLflow tracking store {mask(tracking_uri)}: {_first_line(error)}"
            ) from None


def experiment_id(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name`` in the store at ``tracking_uri``, created if missing."""
    from mlflow import MlflowClient

    from search.tracking import get_or_create_experiment

    return get_or_create_experiment(MlflowClient(tracking_uri), name)


def server_command(tracking_uri: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line serving the UI on ``tracking_uri`` (``search ui``, CML's application)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
            "--host", host, "--port", str(port), "--workers", "1"]


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
