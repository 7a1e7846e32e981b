"""``search ui``: the MLflow UI on the same tracking store the studies write to."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt
from search.stores.mlflow import prepare_tracking_store, server_command, ui_address
from search.stores.urls import resolve_tracking


def ui(
    tracking_uri: opt.TrackingUri = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to serve on (bound to 127.0.0.1).")
    ] = defaults.UI_PORT,
) -> None:
    """Serve the MLflow UI on the tracking store (127.0.0.1)."""
    tracking = resolve_tracking(tracking_uri)
    if tracking.is_server:
        print(f"{tracking} is already a tracking server: open it in a browser.")
        return
    prepare_tracking_store(tracking)
    print(f"MLflow UI for {tracking}: {ui_address(f'http://127.0.0.1:{port}')} (Ctrl-C to stop)", flush=True)
    command = server_command(tracking, port)
    os.execv(command[0], command)
