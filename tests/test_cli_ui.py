"""``search ui``: the MLflow UI on the same store the studies write to, bound to 127.0.0.1."""

import ipaddress
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support import SEARCH, cli_env, free_port, require_system


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port``, from the kernel's tables (Linux)."""
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


@pytest.mark.slow
def test_ui_serves_the_default_store_on_loopback(search_cli, workdir, tracking_uri):
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    port = free_port()
    process = subprocess.Popen([SEARCH, "ui", "--port", str(port)], cwd=workdir, env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, answer = time.time() + 120, None
        while time.time() < deadline and answer is None:
            try:
                url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=knn-runs"
                with urllib.request.urlopen(url, timeout=5) as response:
                    answer = response.read().decode()
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.5)
        assert answer is not None and '"name": "knn-runs"' in answer.replace('":"', '": "')
        require_system(Path("/proc/net/tcp").exists(), "the kernel's socket tables (/proc/net/tcp, Linux)")
        assert listening_addresses(port) == {"127.0.0.1"}, "bound to loopback only, not to every interface"
        import psutil

        started = [" ".join(child.cmdline()) for child in psutil.Process(process.pid).children(recursive=True)]
        assert not [line for line in started if "huey" in line or "job_runner" in line], started  # no job runner
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and anything it started
        process.wait(timeout=30)
