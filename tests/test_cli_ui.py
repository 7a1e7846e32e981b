"""``search ui``: the MLflow UI on the same store the studies write to, bound to 127.0.0.1."""

import os
import signal
import socket
import subprocess
import time
import urllib.request

from conftest import SEARCH, cli_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_serves_the_default_store_on_loopback(search_cli, workdir, tracking_uri):
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    port = _free_port()
    process = subprocess.Popen([SEARCH, "ui", "--port", str(port)], cwd=workdir, env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, answer = time.time() + 120, None
        while time.time() < deadline and answer is None:
            try:
                url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=knn"
                with urllib.request.urlopen(url, timeout=5) as response:
                    answer = response.read().decode()
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.5)
        assert answer is not None and '"name": "knn"' in answer.replace('":"', '": "')
        with socket.socket() as probe:  # bound to loopback only
            probe.settimeout(2)
            outside = socket.gethostbyname(socket.gethostname())
            if not outside.startswith("127."):
                assert probe.connect_ex((outside, port)) != 0
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and anything it started
        process.wait(timeout=30)
