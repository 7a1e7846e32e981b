"""The MLflow tracking store: checked before any work is done, created once, experiments found or made.

An unreachable server should stop a command before it trains anything, with
one clear line; a new sqlite store must be created and migrated exactly once,
even when several workers start at the same moment (MLflow's schema creation
races with itself); and a store that fails mid-study must cost seconds, not
MLflow's default of minutes of retries per request.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from search.errors import SearchError
from search.stores.lock import creating
from search.stores.urls import is_server, mask, sqlite_path
from search.tracking import one_line

HEALTH_TIMEOUT_SECONDS = 5.0
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
#: The experiment tag by which MLflow records what an experiment holds (models trained, not GenAI traces).
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")


class TrackingError(SearchError):
    """The tracking store cannot be reached or opened."""


def quiet_mlflow() -> None:
    """Make a tracking server that stops answering cost seconds per request, and MLflow print nothing of its own.

    Our commands report in their own words: MLflow's INFO lines, its "View run"
    lines and urllib3's retry warnings would only repeat them, or worse, quote a
    URL with its password.
    """
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    for name in ("mlflow", "urllib3", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)  # already set up if imported before us (a notebook)


def prepare_tracking_store(tracking_uri: str) -> None:
    """Check a server answers; create and migrate a local database store once."""
    if is_server(tracking_uri):
        check_server(tracking_uri)
        return
    from mlflow import MlflowClient

    try:
        with creating(sqlite_path(tracking_uri)):  # its lock file may fail too (a file where a folder should be)
            MlflowClient(tracking_uri).search_experiments(max_results=1)
    except Exception as error:
        raise TrackingError(f"cannot open MLflow tracking store {mask(tracking_uri)}: {one_line(error)}") from None


def check_existing_store(tracking_uri: str) -> None:
    """Refuse a local store that does not exist (reading from it would create an empty one), then check it opens."""
    path = sqlite_path(tracking_uri)
    if path is not None and not path.exists():
        raise TrackingError(f"no MLflow tracking store at {path}: pass the --tracking-uri your studies logged to")
    prepare_tracking_store(tracking_uri)


def experiment_id(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name`` in the store at ``tracking_uri``, created if missing, tagged as model training."""
    from mlflow import MlflowClient

    from search.tracking import get_or_create_experiment

    client = MlflowClient(tracking_uri)
    try:
        found = get_or_create_experiment(client, name)
        key, value = EXPERIMENT_KIND_TAG
        if client.get_experiment(found).tags.get(key) != value:
            client.set_experiment_tag(found, key, value)
    except Exception as error:  # refused or unreachable since the check: one line, the URI masked
        raise TrackingError(f"cannot use experiment {name!r} in {mask(tracking_uri)}: {one_line(error)}") from None
    return found


def check_server(tracking_uri: str) -> None:
    """One request MLflow's client would make (list an experiment), with the credentials it would send.

    Not ``/health``: a server behind authentication answers that to anyone.
    """
    import requests

    env = os.environ.get
    auth = None
    if env("MLFLOW_TRACKING_USERNAME") and env("MLFLOW_TRACKING_PASSWORD"):
        auth = (env("MLFLOW_TRACKING_USERNAME"), env("MLFLOW_TRACKING_PASSWORD"))  # credentials in the URL go too
    headers = {"Authorization": f"Bearer {env('MLFLOW_TRACKING_TOKEN')}"} if env("MLFLOW_TRACKING_TOKEN") else {}
    verify = (env("MLFLOW_TRACKING_INSECURE_TLS", "").lower() != "true"
              and (env("MLFLOW_TRACKING_SERVER_CERT_PATH") or True))
    try:
        response = requests.get(tracking_uri.rstrip("/") + "/api/2.0/mlflow/experiments/search",
                                params={"max_results": 1}, timeout=HEALTH_TIMEOUT_SECONDS, auth=auth,
                                headers=headers, verify=verify, cert=env("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None)
    except requests.RequestException as error:
        reason = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
        problem = reason[-1] if reason else type(error).__name__
    else:
        if response.status_code == 200:
            return
        problem = f"HTTP {response.status_code}"
        if response.status_code in (401, 403):
            problem += (" (put the credentials in the URL, or set MLFLOW_TRACKING_USERNAME and "
                        "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)")
    raise TrackingError(f"cannot reach MLflow tracking server {mask(tracking_uri)}: {mask(problem)}")


#: The MLflow UI opens an experiment on its GenAI view unless the address asks for the training runs.
UI_VIEW = "workflowType=machine_learning"


def ui_address(base: str, experiment_id: str | None = None) -> str:
    """The UI's address of an experiment (or of the experiments list) on its "Model training" view, masked."""
    page = f"experiments/{experiment_id}" if experiment_id is not None else "experiments"
    return mask(f"{base.rstrip('/')}/#/{page}?{UI_VIEW}")


def server_command(tracking_uri: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line serving the UI on ``tracking_uri`` (``search ui``, CML's application)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
            "--host", host, "--port", str(port), "--workers", "1", "--app-name", "search-ui"]
