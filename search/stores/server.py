"""Reaching an MLflow tracking server before any work: down is said at once, slow is waited for, visibly.

A server that refuses the connection (or whose name does not resolve) is
down: one line, exit code 2, nothing trained. A server that accepts but does
not answer in time is slow, not down (a loaded machine, a cold start): the
command says it is waiting, and tries again until ``SEARCH_TRACKING_TIMEOUT``
seconds have passed.
"""

from __future__ import annotations

import os
import re
import time
import warnings

from search.errors import SearchError
from search.stores.urls import Store
from search.text import mask

#: One request's wait, and how long a slow server is waited for in all (``SEARCH_TRACKING_TIMEOUT``).
REQUEST_SECONDS = 5.0
TIMEOUT_VARIABLE, TIMEOUT_SECONDS = "SEARCH_TRACKING_TIMEOUT", 120.0


class TrackingError(SearchError):
    """The tracking store cannot be reached or opened: the user's environment, exit code 2."""

    exit_code = 2


class SlowServerWarning(UserWarning):
    """The tracking server has not answered yet; the command waits for it."""


def tracking_timeout() -> float:
    """``SEARCH_TRACKING_TIMEOUT`` (seconds), else `TIMEOUT_SECONDS`."""
    text = (os.environ.get(TIMEOUT_VARIABLE) or "").strip()
    if not text:
        return TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise TrackingError(f"{TIMEOUT_VARIABLE} must be a number of seconds above 0, got {text!r}")
    return value


def check_server(tracking: Store) -> None:
    """One request MLflow's client would make (list an experiment), with the credentials it would send.

    Not ``/health``: a server behind authentication answers that to anyone.
    """
    import requests

    deadline = time.monotonic() + tracking_timeout()
    said = False
    while True:
        try:
            response = _ask(tracking)
        except (requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            if time.monotonic() + REQUEST_SECONDS > deadline:
                raise TrackingError(f"the MLflow tracking server {tracking} did not answer within "
                                    f"{tracking_timeout():.0f} s ({type(error).__name__}); set {TIMEOUT_VARIABLE} "
                                    "to wait longer") from None
            if not said:
                warnings.warn(f"waiting for the tracking server {tracking}: no answer within {REQUEST_SECONDS:.0f} s "
                              f"yet (waiting up to {tracking_timeout():.0f} s; {TIMEOUT_VARIABLE} sets how long)",
                              SlowServerWarning, stacklevel=2)
                said = True
            continue
        except requests.RequestException as error:
            reason = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
            problem = reason[-1] if reason else type(error).__name__
            break
        if response.status_code == 200:
            return
        problem = f"HTTP {response.status_code}"
        if response.status_code in (401, 403):
            problem += (" (put the credentials in the URL, or set MLFLOW_TRACKING_USERNAME and "
                        "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)")
        break
    raise TrackingError(f"cannot reach MLflow tracking server {tracking}: {mask(problem)}")


def _ask(tracking: Store) -> object:
    import requests

    env = os.environ.get
    auth = None
    if env("MLFLOW_TRACKING_USERNAME") and env("MLFLOW_TRACKING_PASSWORD"):
        auth = (env("MLFLOW_TRACKING_USERNAME"), env("MLFLOW_TRACKING_PASSWORD"))  # credentials in the URL go too
    headers = {"Authorization": f"Bearer {env('MLFLOW_TRACKING_TOKEN')}"} if env("MLFLOW_TRACKING_TOKEN") else {}
    verify = (env("MLFLOW_TRACKING_INSECURE_TLS", "").lower() != "true"
              and (env("MLFLOW_TRACKING_SERVER_CERT_PATH") or True))
    return requests.get(tracking.url.rstrip("/") + "/api/2.0/mlflow/experiments/search",
                        params={"max_results": 1}, timeout=REQUEST_SECONDS, auth=auth, headers=headers,
                        verify=verify, cert=env("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None)
