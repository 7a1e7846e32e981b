"""``search ui``: the MLflow UI on the same tracking store the studies write to."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from search.cli import _options as opt


def ui_command(tracking_uri: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line serving ``tracking_uri``, for us and for CML's app."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
            "--host", host, "--port", str(port), "--workers", "1"]


def ui(
    tracking_uri: opt.TrackingUri = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on (bound to 127.0.0.1).")] = 5000,
) -> None:
    """Open the MLflow UI on the tracking store (bound to 127.0.0.1)."""
    from search.tracking_store import prepare_tracking_store
    from search.urls import mask, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        print(f"{mask(uri)} is already a tracking server: open it in a browser.")
        return
    prepare_tracking_store(uri)
    print(f"MLflow UI for {mask(uri)} on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    command = ui_command(uri, port)
    os.execv(command[0], command)
