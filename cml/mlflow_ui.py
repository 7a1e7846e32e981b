"""CML application: the MLflow UI on the store the study jobs write to.

Serves on 127.0.0.1:$CDSW_APP_PORT (else $CDSW_READONLY_PORT), where CML's proxy
forwards https://mlflow.$CDSW_DOMAIN. The store is SEARCH_TRACKING_URI, blank
meaning the project's embedded sqlite:///<project>/mlflow.db (CML's own
MLFLOW_TRACKING_URI is ignored). Only the Host headers CML's proxy and this
machine's loopback send are served; any other is refused (DNS rebinding).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import project
import studies
from search.errors import SearchError
from search.stores.tracking_store import SERVER_ENVIRONMENT, prepare_tracking_store, server_command
from search.stores.urls import Store

PROG = "mlflow_ui"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def main(script: str | None) -> int:
    try:
        port = project.app_port()
        root = project.project_root(script)
        tracking = studies.tracking(root)
        hosts = project.allowed_hosts(port, os.environ.get("CDSW_DOMAIN"))
        if tracking.is_server:
            raise SearchError(f"SEARCH_TRACKING_URI is a tracking server ({tracking}): open its own UI instead")
        prepare_tracking_store(tracking)
    except (SearchError, project.SettingError) as error:
        project.error_line(PROG, error)
        return error.exit_code
    return serve(tracking, port, hosts, root)


def serve(tracking: Store, port: int, hosts: list[str], root: Path) -> int:
    """Run ``mlflow server`` as a child, pass it CML's stop signals, and exit with its status."""
    command = [*server_command(tracking, port), "--allowed-hosts", ",".join(hosts)]
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking.url,
        **SERVER_ENVIRONMENT,
    }
    print(f"{PROG}: MLflow UI for {tracking} on http://127.0.0.1:{port}, serving Host {', '.join(hosts)}",
          flush=True)
    server = subprocess.Popen(command, cwd=root, env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if server.poll() is None:
            server.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        return server.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    sys.exit(main(globals().get("__file__")))
