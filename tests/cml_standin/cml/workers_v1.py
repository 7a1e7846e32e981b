"""STAND-IN for CML's workers API (``cml.workers_v1``), for the rehearsal tests only.

Same functions, arguments and return shapes as CML's; each worker is a real
local process instead of an engine on the cluster:

- ``launch_workers(n, cpu, memory, nvidia_gpu=0, kernel="python3", script="", code="", env={})``
  starts ``n`` processes running ``script`` (a project file) or else ``code``
  (as ``python -c``), from the project directory, with this process's
  environment plus ``env``; it returns a description dict per worker
  (``id``, ``status``, ``ip_address``, ``app_url``, …). ``cpu`` and ``memory``
  are checked as CML checks them but not enforced.
- ``await_workers(ids, wait_for_completion=True, timeout_seconds=60)`` returns
  ``{"workers": [...], "failures": [...]}``: those that reached the status
  (exited 0, or running), and those that did not (exited non-zero: "failed";
  stopped: "stopped"; still going at the timeout, 0 meaning none).
- ``stop_workers(*ids)`` stops them (SIGTERM, then SIGKILL after a grace period),
  as CML stops an engine.

What the tests need and CML does not offer: each worker's output goes to
``$CML_STANDIN_DIR/<id>.log`` and its pid to ``$CML_STANDIN_DIR/<id>.pid``, so a
test can read a worker's log and kill one.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

STOP_GRACE_SECONDS = 10.0
_workers: dict[str, dict] = {}
_processes: dict[str, subprocess.Popen] = {}


def _directory() -> Path:
    path = Path(os.environ.get("CML_STANDIN_DIR") or Path.cwd() / ".cml-standin")
    path.mkdir(parents=True, exist_ok=True)
    return path


def launch_workers(n, cpu, memory, nvidia_gpu=0, kernel="python3", script="", code="", env=None, **_ignored):
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not cpu > 0 or not memory > 0:
        raise ValueError(f"cpu and memory must be positive, got {cpu!r} and {memory!r}")
    if not script and not code:
        raise ValueError("give a script or code for the workers to run")
    command = [sys.executable, script] if script else [sys.executable, "-c", code]
    launched = []
    for _ in range(n):
        worker_id = uuid.uuid4().hex[:12]
        log = _directory() / f"{worker_id}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                command, env={**os.environ, **{k: str(v) for k, v in (env or {}).items()}}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,  # an engine of its own: no terminal's Ctrl-C
            )
        (_directory() / f"{worker_id}.pid").write_text(str(process.pid))
        description = {"id": worker_id, "status": "running", "ip_address": "127.0.0.1", "app_url": "",
                       "cpu": cpu, "memory": memory, "nvidia_gpu": nvidia_gpu, "kernel": kernel}
        _workers[worker_id] = description
        _processes[worker_id] = process
        launched.append(dict(description))
    return launched


def _refresh(worker_id: str) -> dict:
    description = _workers[worker_id]
    code = _processes[worker_id].poll()
    if code is not None and description["status"] == "running":
        description["status"] = "succeeded" if code == 0 else "failed"
    return description


def list_workers():
    return [dict(_refresh(worker_id)) for worker_id in _workers]


def await_workers(ids, wait_for_completion=True, timeout_seconds=60):  # noqa: FBT002 - CML's own signature
    wanted = [item["id"] if isinstance(item, dict) else item for item in (ids or list(_workers))]
    deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
    done = ("succeeded", "failed", "stopped") if wait_for_completion else ("running", "succeeded", "failed", "stopped")
    while True:
        states = {worker_id: _refresh(worker_id)["status"] for worker_id in wanted}
        if all(state in done for state in states.values()) or (deadline and time.monotonic() >= deadline):
            break
        time.sleep(0.2)
    reached = "succeeded" if wait_for_completion else "running"
    workers = [dict(_workers[w]) for w in wanted if states[w] == reached]
    failures = [dict(_workers[w]) for w in wanted if states[w] != reached]
    return {"workers": workers, "failures": failures}


def stop_workers(*worker_ids):
    stopped = []
    for worker_id in worker_ids or list(_workers):
        process = _processes[worker_id]
        if process.poll() is None:
            _workers[worker_id]["status"] = "stopped"  # as CML: stopped on request, however it exits
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stopped.append(dict(_workers[worker_id]))
    return stopped


@atexit.register
def _stop_all_on_exit() -> None:
    """CML stops a job's workers when the job's engine ends; so does the stand-in when its process exits."""
    for process in _processes.values():
        if process.poll() is None:
            process.kill()
