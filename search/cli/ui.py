"""``search ui``: the MLflow UI on the same tracking store the studies write to."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt
from search.errors import InputError
from search.stores.tracking_store import SERVER_ENVIRONMENT, check_existing_store, server_command, ui_address
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
    _check_port_free(port)
    check_existing_store(tracking)  # a reading command makes no store
    print(f"MLflow UI for {tracking}: {ui_address(f'http://127.0.0.1:{port}')} (Ctrl-C to stop)", flush=True)
    command = server_command(tracking, port)
    os.execve(command[0], command, {**os.environ, **SERVER_ENVIRONMENT})


def _check_port_free(port: int) -> None:
    """Refuse a port another program listens on, in one line, before the server starts and fails on it."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise InputError(f"port {port} is in use on 127.0.0.1: pass another --port") from None
