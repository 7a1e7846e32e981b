"""B7 Trials logged per second with 1, 2 and 4 local worker processes, against `mlflow server` on PostgreSQL.

The setup the CML section recommends for several workers: an MLflow tracking
server whose backend store is PostgreSQL, and Optuna's journal file as the
study's storage. Each run is ``search study knn --n-trials N --workers W
--no-log-model --tracking-uri http://server`` with its own study (and so its
own experiment) on one server, started once on a fresh database. Trials/s
logged counts, over the whole command (it ends once every run is written),
the trials whose run is in the server; over the optimisation, from the first
trial's start to the last one's end. Each run is checked: every trial logged
exactly once, under one parent run. Baseline: 1 worker, in the same run.
This machine has 2 cores: 4 workers share them.

    python -m benchmarks.b7_logging_scale [--quick]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from benchmarks._common import PYTHON, Row, cli, print_table, ratio, run_cmd, venv_script

PG = "postgresql://postgres@127.0.0.1:5432"
WORKERS = (1, 2, 4)


class Server:
    """``mlflow server`` on a fresh PostgreSQL database, for the whole benchmark."""

    def __init__(self, workdir: Path) -> None:
        import psycopg

        self.database = f"b7_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(workdir / "mlflow-server.log", "w")  # noqa: SIM115 - open for the server's life
        self.process = subprocess.Popen(
            [PYTHON, "-m", "mlflow", "server", "--backend-store-uri", f"{PG}/{self.database}",
             "--default-artifact-root", str(workdir / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2"],
            stdout=self.log, stderr=subprocess.STDOUT, env=_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.close()
        raise RuntimeError(f"mlflow server did not start; see {workdir / 'mlflow-server.log'}")

    def close(self) -> None:
        import psycopg

        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def _one_run(server: Server, workdir: Path, workers: int, n_trials: int, repeat: int) -> tuple[float, float, bool]:
    import optuna
    from mlflow import MlflowClient

    name = f"b7-{workers}w-{repeat}"
    storage = workdir / f"{name}.journal"
    started = time.perf_counter()
    run_cmd([venv_script("search"), "study", "knn", "--study-name", name, "--n-trials", str(n_trials),
             "--workers", str(workers), "--seed", str(repeat), "--no-log-model", "--no-progress",
             "--storage", str(storage), "--tracking-uri", server.url], cwd=workdir)
    wall = time.perf_counter() - started
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from search.stores.optuna_storage import open_storage
    from search.stores.urls import Store

    study = optuna.load_study(study_name=name, storage=open_storage(Store.parse(str(storage)), read_only=True))
    trials = [t for t in study.trials if t.state.is_finished()]
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    client = MlflowClient(server.url)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("search.role") == "study"]
    children = sorted(int(r.data.tags["number"]) for r in runs if "mlflow.parentRunId" in r.data.tags)
    logged_once = len(parents) == 1 and children == sorted(t.number for t in trials) and len(trials) == n_trials
    return len(children) / wall, len(trials) / span, logged_once


def main(*, quick: bool) -> list[Row]:
    n_trials, repeats = (12, 1) if quick else (40, 3)
    workdir = Path(tempfile.mkdtemp(prefix="b7-"))
    server = Server(workdir)
    results: dict[int, list[tuple[float, float, bool]]] = {w: [] for w in WORKERS}
    try:
        for repeat in range(repeats):
            for workers in WORKERS:  # interleaved, so drift hits every setting alike
                results[workers].append(_one_run(server, workdir, workers, n_trials, repeat))
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    logged = {w: statistics.median(r[0] for r in runs) for w, runs in results.items()}
    optimisation = {w: statistics.median(r[1] for r in runs) for w, runs in results.items()}
    once = all(r[2] for runs in results.values() for r in runs)
    rows = []
    for workers in WORKERS:
        baseline = "" if workers == 1 else "1 worker"
        rows.append(Row(f"{workers} worker(s), trials/s logged (whole command)", logged[workers], "trials/s",
                        baseline, None if workers == 1 else ratio(logged[workers], logged[1])))
    for workers in WORKERS:
        baseline = "" if workers == 1 else "1 worker"
        rows.append(Row(f"{workers} worker(s), trials/s run (optimisation span)", optimisation[workers], "trials/s",
                        baseline, None if workers == 1 else ratio(optimisation[workers], optimisation[1])))
    rows.append(Row("every trial logged exactly once under one parent", once, target="yes", met=once))
    print_table(f"B7 logging to mlflow server + PostgreSQL ({n_trials}-trial kNN study, median of {repeats})", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
