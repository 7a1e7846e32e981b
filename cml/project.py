"""What the CML prototype's scripts read from the project: its root, its stores, its settings, its ports.

CML runs the AMP's jobs and its application with the project's environment
variables (declared in ``.project-metadata.yaml``). CML also sets
``MLFLOW_TRACKING_URI`` for its own tracking, so the scripts read
``SEARCH_TRACKING_URI`` instead; blank means the project's embedded stores. Every
relative store is anchored at the project root, never the working directory, so
the study jobs and the MLflow UI application always open the same files.

Imports only the standard library at load time: the install job reads it
before the toolkit is installed. The scripts beside it import it as ``project``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

METADATA_FILE = ".project-metadata.yaml"
#: The application's subdomain in ``.project-metadata.yaml``: CML serves it at ``mlflow.$CDSW_DOMAIN``.
APP_SUBDOMAIN = "mlflow"
DISTRIBUTION = "cml-hyperparameter-search"
DEFAULT_MODELS = ("knn", "random-forest")
EMBEDDED_TRACKING = "mlflow.db"
EMBEDDED_STORAGE = "optuna.db"

_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class SettingError(ValueError):
    """A project setting (an environment variable) is unusable; the message names it."""

    exit_code = 2


def project_root(script: str | None = None) -> Path:
    """The directory holding ``.project-metadata.yaml``, above ``script`` (else the working directory).

    CML may run a script without ``__file__`` (in its engine); it then runs it from the project root.
    """
    start = Path(script).resolve().parent if script else Path.cwd().resolve()
    for directory in (start, *start.parents):
        if (directory / METADATA_FILE).is_file():
            return directory
    raise SettingError(f"no {METADATA_FILE} in {start} or above it: run the script from the project")


def env(name: str) -> str:
    """A project setting; blank and unset are the same."""
    return (os.environ.get(name) or "").strip()


def tracking_uri(root: Path) -> str:
    """``SEARCH_TRACKING_URI``, else the embedded ``sqlite:///<root>/mlflow.db`` (never CML's MLFLOW_TRACKING_URI)."""
    from search.stores.urls import absolute_sqlite

    return absolute_sqlite(env("SEARCH_TRACKING_URI") or f"sqlite:///{EMBEDDED_TRACKING}", root)


def storage(root: Path) -> str:
    """``SEARCH_STORAGE``, else the embedded ``sqlite:///<root>/optuna.db``; a relative path is taken from ``root``."""
    from search.stores.urls import absolute_sqlite

    url = env("SEARCH_STORAGE") or f"sqlite:///{EMBEDDED_STORAGE}"
    if "://" not in url:  # a journal file
        return str(root / url)
    return absolute_sqlite(url, root)


def models() -> list[str]:
    """``SEARCH_MODELS``: model names separated by spaces or commas; one study each."""
    return env("SEARCH_MODELS").replace(",", " ").split() or list(DEFAULT_MODELS)


def number(name: str, kind: type = int) -> int | float | None:
    """The setting ``name`` as a number (blank: None)."""
    value = env(name)
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingError(f"{name} must be {what}, got {value!r}") from None


def register() -> str | None:
    """``SEARCH_REGISTER``: the registered model each study's best model becomes a version of (blank: none)."""
    return env("SEARCH_REGISTER") or None


def n_trials() -> int | None:
    """``SEARCH_N_TRIALS``: trials each run of the study job adds to each study (blank: the toolkit's default)."""
    return number("SEARCH_N_TRIALS")


def timeout() -> float | None:
    """``SEARCH_TIMEOUT``: seconds after which a study starts no trial (blank: no limit)."""
    return number("SEARCH_TIMEOUT", float)


def app_port() -> int:
    """The port CML gives the application: ``CDSW_APP_PORT``, else ``CDSW_READONLY_PORT``."""
    for name in ("CDSW_APP_PORT", "CDSW_READONLY_PORT"):
        value = env(name)
        if value:
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise SettingError(f"{name} must be a port number, got {value!r}")
            return int(value)
    raise SettingError("neither CDSW_APP_PORT nor CDSW_READONLY_PORT is set (CML sets them for an application)")


def app_address() -> str | None:
    """Where CML serves the MLflow UI application (``https://mlflow.$CDSW_DOMAIN``), if this runs on CML."""
    domain = env("CDSW_DOMAIN").lower().rstrip(".")
    return f"https://{APP_SUBDOMAIN}.{domain}" if domain else None


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
            raise SettingError(f"CDSW_DOMAIN is not a domain name: {domain!r}")
        hosts.insert(0, f"{APP_SUBDOMAIN}.{domain}")
    return hosts
