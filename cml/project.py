"""What the CML prototype's scripts read from the project: its root, its stores, its settings, its ports.

CML runs the AMP's jobs and its application with the project's environment
variables (declared in ``.project-metadata.yaml``). CML also sets
``MLFLOW_TRACKING_URI`` for its own tracking, so the scripts read
``SEARCH_TRACKING_URI`` instead; blank means the project's embedded stores. Every
relative store is anchored at the project root, never the working directory, so
the study jobs and the MLflow UI application always open the same files.

Imports only the standard library: the install job reads it before the
toolkit is installed. The scripts beside it import it as ``project``; what
needs the toolkit (the stores, a study's config) is in ``studies.py``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

METADATA_FILE = ".project-metadata.yaml"
#: The application's subdomain in ``.project-metadata.yaml``: CML serves it at ``mlflow.$CDSW_DOMAIN``.
APP_SUBDOMAIN = "mlflow"
DISTRIBUTION = "cml-hyperparameter-search"
#: The models the study job tunes when ``SEARCH_MODELS`` is blank (the metadata's default too).
DEFAULT_MODELS = ("knn", "random-forest")

_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class SettingError(ValueError):
    """A project setting (an environment variable) is unusable; the message names it."""

    exit_code = 2


def error_line(prog: str, error: BaseException) -> None:
    """A script's one-line error on stderr: ``prog: error: message``."""
    print(f"{prog}: error: {' '.join(str(error).split())}", file=sys.stderr)


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


def models() -> list[str]:
    """``SEARCH_MODELS``: model names separated by spaces or commas; one study each."""
    return env("SEARCH_MODELS").replace(",", " ").split() or list(DEFAULT_MODELS)


def number(name: str, kind: type = int, *, positive: bool = False) -> int | float | None:
    """The setting ``name`` as a number (blank: None)."""
    value = env(name)
    if not value:
        return None
    what = "a whole number" if kind is int else "a number"
    try:
        result = kind(value)
    except ValueError:
        raise SettingError(f"{name} must be {what}, got {value!r}") from None
    if positive and not result > 0:
        raise SettingError(f"{name} must be {what} above 0, got {value!r}")
    return result


def workers() -> int:
    """``SEARCH_WORKERS``: CML workers running each study's trials (blank or 1: the job runs them itself)."""
    return number("SEARCH_WORKERS", positive=True) or 1


def worker_resources() -> tuple[float, float]:
    """``SEARCH_WORKER_CPU`` and ``SEARCH_WORKER_MEMORY`` (GiB): what each CML worker gets (default 1 and 2)."""
    return number("SEARCH_WORKER_CPU", float, positive=True) or 1.0, \
        number("SEARCH_WORKER_MEMORY", float, positive=True) or 2.0


def register() -> str | None:
    """``SEARCH_REGISTER``: the registered model each study's best model becomes a version of (blank: none)."""
    return env("SEARCH_REGISTER") or None


def n_trials() -> int | None:
    """``SEARCH_N_TRIALS``: trials each run of the study job adds to each study (blank: the toolkit's default)."""
    return number("SEARCH_N_TRIALS", positive=True)


def timeout() -> float | None:
    """``SEARCH_TIMEOUT``: seconds after which a study starts no trial (blank: no limit)."""
    return number("SEARCH_TIMEOUT", float, positive=True)


def trial_timeout() -> float | None:
    """``SEARCH_TRIAL_TIMEOUT``: seconds after which one trial is stopped and failed (blank: the toolkit's rule)."""
    return number("SEARCH_TRIAL_TIMEOUT", float, positive=True)


def app_port() -> int:
    """The port CML gives the application: ``CDSW_APP_PORT``, else ``CDSW_READONLY_PORT``."""
    for name in ("CDSW_APP_PORT", "CDSW_READONLY_PORT"):
        value = env(name)
        if value:
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise SettingError(f"{name} must be a port number, got {value!r}")
            return int(value)
    raise SettingError("neither CDSW_APP_PORT nor CDSW_READONLY_PORT is set (CML sets them for an application)")


def ui_host() -> str | None:
    """``SEARCH_UI_HOST``: the host name the MLflow UI application is served at, when not ``mlflow.$CDSW_DOMAIN``.

    CML may not give the application the subdomain ``mlflow`` (it is taken, or
    subdomains are randomised): the UI then accepts this host instead.
    """
    host = env("SEARCH_UI_HOST").lower().rstrip(".")
    if "://" in host:
        host = host.split("://", 1)[1].split("/", 1)[0]
    host = host.rsplit("@", 1)[-1]  # an address pasted with credentials: the host only, never the password
    name, _, port = host.partition(":")
    if host and (not _DOMAIN.match(name) or (port and not port.isdigit())):
        raise SettingError(f"SEARCH_UI_HOST must be a host name like mlflow-team.ml.example.com, got {host!r}")
    return host or None


def app_address() -> str | None:
    """Where CML serves the MLflow UI application (``https://mlflow.$CDSW_DOMAIN``), if this runs on CML."""
    host = ui_host()
    domain = env("CDSW_DOMAIN").lower().rstrip(".")
    if host:
        return f"https://{host}"
    return f"https://{APP_SUBDOMAIN}.{domain}" if domain else None


def allowed_hosts(port: int, domain: str | None) -> list[str]:
    """The Host headers the UI serves: ``SEARCH_UI_HOST`` or CML's ``mlflow.<domain>``, and loopback on ``port``.

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
    host = ui_host()
    if host:
        hosts.insert(0, host)
    return hosts
