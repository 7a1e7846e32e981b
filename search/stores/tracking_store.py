"""The MLflow tracking store: checked before any work is done, created once, experiments found or made.

An unreachable server should stop a command before it trains anything, with
one clear line; a new sqlite store must be created and migrated exactly once,
even when several workers start at the same moment (MLflow's schema creation
races with itself); and a store that fails mid-study must cost seconds, not
MLflow's default of minutes of retries per request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from search.common.mlflow_client import get_or_create_experiment
from search.common.store_files import prepare_store
from search.errors import InputError
from search.stores.server import TrackingError, check_server
from search.stores.urls import Store
from search.text import mask, one_line

#: MLflow's HTTP client settings for our commands (MLflow's own defaults: 7 retries, 120 s timeout,
#: so a dead server blocks each request for minutes). Set only where the user has not set them.
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    # MLflow prints "View run … / View experiment …" to stdout for every run ended on a server.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # No usage reports from a closed network; and its thread would make helper processes start by spawn.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
#: The experiment MLflow makes in every new database store, named "Default".
DEFAULT_EXPERIMENT_ID = "0"
#: The experiment tag by which MLflow records what an experiment holds (models trained, not GenAI traces).
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")


#: What `quiet_mlflow` sets: the HTTP client's patience, MLflow's own log level, the loggers it silences.
_QUIET_ENVIRONMENT = {**HTTP_SETTINGS, "MLFLOW_LOGGING_LEVEL": "ERROR"}
_QUIET_LOGGERS = ("mlflow", "urllib3", "alembic")


def quiet_mlflow() -> None:
    """Make a tracking server that stops answering cost seconds per request, and MLflow print nothing of its own.

    Our commands report in their own words: MLflow's INFO lines, its "View run"
    lines and urllib3's retry warnings would only repeat them, or worse, quote a
    URL with its password.
    """
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)  # already set up if imported before us (a notebook)


@contextlib.contextmanager
def mlflow_quieted() -> Iterator[None]:
    """`quiet_mlflow` for the length of a call, then the caller's environment and loggers as they were.

    For `search.tune`: a notebook's kernel is the user's, and outlives the call.
    """
    environment = {name: os.environ.get(name) for name in _QUIET_ENVIRONMENT}
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    quiet_mlflow()
    try:
        yield
    finally:
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def prepare_tracking_store(tracking: Store) -> None:
    """Check a server answers; create and migrate a local database store once.

    A store made here gets no empty "Default" experiment: the UI then lists
    the studies alone (MLflow makes one with every new database).
    """
    if tracking.is_server:
        check_server(tracking)
        return
    new = tracking.path is not None and not tracking.path.exists()
    if new and not tracking.path.parent.is_dir():  # a mistyped folder is refused, never made
        raise InputError(f"cannot create the MLflow tracking store {tracking.path}: "
                         f"no such directory {tracking.path.parent}")
    try:
        prepare_store(tracking.url)  # its lock file may fail too (a file where a folder should be)
        if new:
            _drop_empty_default_experiment(tracking)
    except Exception as error:
        raise TrackingError(f"cannot open MLflow tracking store {tracking.masked}: {one_line(error)}") from None


def _drop_empty_default_experiment(tracking: Store) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking.url)
    default = client.get_experiment(DEFAULT_EXPERIMENT_ID)
    runs = client.search_runs([DEFAULT_EXPERIMENT_ID], max_results=1, run_view_type=ViewType.ALL)
    if default.lifecycle_stage == "active" and not runs:
        client.delete_experiment(DEFAULT_EXPERIMENT_ID)


def check_existing_store(tracking: Store) -> None:
    """Refuse a local store that does not exist (reading from it would create an empty one), then check it opens."""
    if tracking.path is not None and not tracking.path.exists():
        raise TrackingError(f"no MLflow tracking store at {tracking.path}: pass the --tracking-uri your studies "
                            "logged to")
    prepare_tracking_store(tracking)


def experiment_id(tracking: Store, name: str) -> str:
    """The id of experiment ``name`` in ``tracking``, created if missing, tagged as model training."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking.url)
    try:
        found = get_or_create_experiment(client, name)
        key, value = EXPERIMENT_KIND_TAG
        if client.get_experiment(found).tags.get(key) != value:
            client.set_experiment_tag(found, key, value)
    except Exception as error:  # refused or unreachable since the check: one line, the URI masked
        raise TrackingError(f"cannot use experiment {name!r} in {tracking.masked}: {one_line(error)}") from None
    return found


#: The MLflow UI opens an experiment on its GenAI view unless the address asks for the training runs.
UI_VIEW = "workflowType=machine_learning"


def ui_address(base: str, experiment_id: str | None = None) -> str:
    """The UI's address of an experiment (or of the experiments list) on its "Model training" view, masked."""
    page = f"experiments/{experiment_id}" if experiment_id is not None else "experiments"
    return mask(f"{base.rstrip('/')}/#/{page}?{UI_VIEW}")


#: The environment the UI's server runs in: no background job runner (MLflow's GenAI jobs; seven processes on
#: two cores, seconds before the UI answers), for ``search ui`` and CML's application alike.
SERVER_ENVIRONMENT = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                      "PYTHONWARNINGS": "ignore:starlette.middleware.wsgi is deprecated"}  # MLflow's, not the user's


def server_command(tracking: Store, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line serving the UI on ``tracking`` (``search ui``, CML's application)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking.url,
            "--host", host, "--port", str(port), "--workers", "1", "--app-name", "search-ui"]
