"""What the CML prototype's scripts (``cml/``) read from the project: its root, its stores, its settings.

CML runs the AMP's jobs and its application with the project's environment
variables (declared in ``.project-metadata.yaml``). CML also sets
``MLFLOW_TRACKING_URI`` for its own tracking, so the scripts read
``SEARCH_TRACKING_URI`` instead; blank means the project's embedded stores. Every
relative store is anchored at the project root, never the working directory, so
the study jobs and the MLflow UI application always open the same files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from search.errors import InputError, SearchError
from search.urls import absolute_sqlite

METADATA_FILE = ".project-metadata.yaml"
#: The application's subdomain in ``.project-metadata.yaml``: CML serves it at ``mlflow.$CDSW_DOMAIN``.
APP_SUBDOMAIN = "mlflow"
DEFAULT_MODELS = ("knn", "random-forest")
DEFAULT_N_TRIALS = 20
EMBEDDED_TRACKING = "mlflow.db"
EMBEDDED_STORAGE = "optuna.db"

_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def project_root(script: str | None = None) -> Path:
    """The directory holding ``.project-metadata.yaml``, above ``script`` (else the working directory).

    CML may run a script without ``__file__`` (in its engine); it then runs it from the project root.
    """
    start = Path(script).resolve().parent if script else Path.cwd().resolve()
    for directory in (start, *start.parents):
        if (directory / METADATA_FILE).is_file():
            return directory
    raise SearchError(f"no {METADATA_FILE} in {start} or above it: run the script from the project")


def _env(name: str) -> str:
    return (os.environ.get(name) or "").strip()


def tracking_uri(root: Path) -> str:
    """``SEARCH_TRACKING_URI``, else the embedded ``sqlite:///<root>/mlflow.db`` (never CML's MLFLOW_TRACKING_URI)."""
    return absolute_sqlite(_env("SEARCH_TRACKING_URI") or f"sqlite:///{EMBEDDED_TRACKING}", root)


def storage(root: Path) -> str:
    """``SEARCH_STORAGE``, else the embedded ``sqlite:///<root>/optuna.db``; a relative path is taken from ``root``."""
    url = _env("SEARCH_STORAGE") or f"sqlite:///{EMBEDDED_STORAGE}"
    if "://" not in url:  # a journal file
        return str(root / url)
    return absolute_sqlite(url, root)


def models() -> list[str]:
    """``SEARCH_MODELS``: model names separated by spaces or commas; one study each."""
    return _env("SEARCH_MODELS").replace(",", " ").split() or list(DEFAULT_MODELS)


def n_trials() -> int | None:
    """``SEARCH_N_TRIALS`` (blank: none, unless there is no timeout either)."""
    value = _env("SEARCH_N_TRIALS")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"SEARCH_N_TRIALS must be a whole number, got {value!r}") from None


def timeout() -> float | None:
    """``SEARCH_TIMEOUT`` in seconds per study (blank: none)."""
    value = _env("SEARCH_TIMEOUT")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"SEARCH_TIMEOUT must be a number of seconds, got {value!r}") from None


def app_port() -> int:
    """The port CML gives the application: ``CDSW_APP_PORT``, else ``CDSW_READONLY_PORT``."""
    for name in ("CDSW_APP_PORT", "CDSW_READONLY_PORT"):
        value = _env(name)
        if value:
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise InputError(f"{name} must be a port number, got {value!r}")
            return int(value)
    raise InputError("neither CDSW_APP_PORT nor CDSW_READONLY_PORT is set (CML sets them for an application)")


def allowed_hosts(port: int, domain: str | None) -> list[str]:
    """The Host headers the UI serves: CML's ``mlflow.<domain>`` and this machine's loopback on ``port``.

    MLflow compares a Host header exactly (port included) unless the pattern has a
    ``*``; anything else, including the private addresses MLflow allows by
    default, is refused.
    """
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}"]
    domain = (domain or "").strip().lower().rstrip(".")
    if domain:
        if not _DOMAIN.match(domain):
            raise InputError(f"CDSW_DOMAIN is not a domain name: {domain!r}")
        hosts.insert(0, f"{APP_SUBDOMAIN}.{domain}")
    return hosts
