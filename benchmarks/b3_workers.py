"""B3 Parallel trials on one machine: a random-forest study with 1 worker process against 2.

Each run is ``search study random-forest --n-trials 24 --workers N`` on fresh
stores in a temporary directory. Trials per second are taken over the
optimisation (first trial's start to last trial's end, from Optuna's own
timestamps) and, for the whole command, over its wall time (imports included).
Each run is also checked: every trial logged to MLflow exactly once, under one
parent run.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import Row, cli, print_table, ratio, run_cmd, venv_script


def _one_run(workers: int, n_trials: int, seed: int) -> tuple[float, float, bool]:
    import optuna
    from mlflow import MlflowClient

    workdir = Path(tempfile.mkdtemp(prefix="b3-"))
    try:
        started = time.perf_counter()
        run_cmd([venv_script("search"), "study", "random-forest", "--n-trials", str(n_trials), "--workers",
                 str(workers), "--seed", str(seed), "--no-progress"], env={"MLFLOW_TRACKING_URI": ""}, cwd=workdir)
        wall = time.perf_counter() - started
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.load_study(study_name="random-forest", storage=f"sqlite:///{workdir / 'optuna.db'}")
        trials = [t for t in study.trials if t.state.is_finished()]
        span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
        client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("random-forest").experiment_id], max_results=1000)
        parents = [r for r in runs if r.data.tags.get("search.role") == "study"]
        children = sorted(int(r.data.tags["number"]) for r in runs if "mlflow.parentRunId" in r.data.tags)
        logged_once = len(parents) == 1 and children == sorted(t.number for t in trials)
        return len(trials) / span, len(trials) / wall, logged_once
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(*, quick: bool) -> list[Row]:
    n_trials, repeats = (8, 1) if quick else (24, 3)
    results: dict[int, list[tuple[float, float, bool]]] = {1: [], 2: []}
    for repeat in range(repeats):
        for workers in (1, 2):  # interleaved
            results[workers].append(_one_run(workers, n_trials, seed=repeat))
    optimisation = {w: statistics.median(r[0] for r in runs) for w, runs in results.items()}
    command = {w: statistics.median(r[1] for r in runs) for w, runs in results.items()}
    speedup = ratio(optimisation[2], optimisation[1])
    rows = [
        Row("1 worker, trials/s (optimisation)", optimisation[1], "trials/s"),
        Row("2 workers, trials/s (optimisation)", optimisation[2], "trials/s", "1 worker", speedup, ">= 1.8x",
            speedup is not None and speedup >= 1.8),
        Row("1 worker, trials/s (whole command)", command[1], "trials/s"),
        Row("2 workers, trials/s (whole command)", command[2], "trials/s", "1 worker", ratio(command[2], command[1])),
        Row("every trial logged once under one parent", all(r[2] for runs in results.values() for r in runs),
            target="yes", met=all(r[2] for runs in results.values() for r in runs)),
    ]
    print_table(f"B3 parallel trials ({n_trials}-trial random-forest study, median of {repeats})", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
