"""``search ui``: the MLflow UI on the same tracking store the studies write to."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt


def ui(
    tracking_uri: opt.TrackingUri = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to serve on (bound to 127.0.0.1).")
    ] = defaults.UI_PORT,
) -> None:
    """Serve the MLflow UI on the tracking store (127.0.0.1)."""
    from search.stores.mlflow import prepare_tracking_store, server_command, ui_address
    from search.stores.urls import is_server, mask, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if is_server(uri):
        print(f"{mask(uri)} is already a tracking server: open it in a browser.")
        return
    prepare_tracking_store(uri)
    print(f"MLflow UI for {mask(uri)}: {ui_address(f'http://127.0.0.1:{port}')} (Ctrl-C to stop)", flush=True)
    command = server_command(uri, port)
    os.execv(command[0], command)
