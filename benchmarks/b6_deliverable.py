"""B6 The study's deliverable: what the refit, the figures and the registration add to a 20-trial kNN study.

Each repeat runs, in a fresh process on fresh stores, the study ``search study
knn --n-trials 20`` does (TPE, median pruner, 5-fold CV), once with the
deliverable (best model refitted, logged with signature and input example,
registered as ``knn-clf``, figures and trials.csv on the study run) and once
with ``--no-log-model`` (figures and trials.csv only). The runner's own phase
timings say how long each part took; the process time counts from the start of
the script (imports included), as a user waits for the command.
Target: the deliverable (refit, figures, registration) under 10% of the study's time.

    python -m benchmarks.b6_deliverable [--quick]
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks._common import PYTHON, Row, cli, print_table, ratio, run_cmd

TARGET = 0.10

#: One study as `search study knn --n-trials N --seed S [--register knn-clf | --no-log-model]` runs it.
_STUDY = """
import time
started = time.perf_counter()
import json, sys
import optuna
from search.stores.tracking_store import quiet_mlflow
from search.study import StudyConfig, run_study
quiet_mlflow()
optuna.logging.set_verbosity(optuna.logging.ERROR)
deliver = sys.argv[3] == "1"
config = StudyConfig(models=("knn",), n_trials=int(sys.argv[1]), seed=int(sys.argv[2]), log_model=deliver,
                     register="knn-clf" if deliver else None)
outcome = run_study(config)
print(json.dumps({**outcome.timings, "process": time.perf_counter() - started}))
"""


def _one_run(n_trials: int, seed: int, *, deliver: bool) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="b6-"))
    try:
        done = run_cmd([PYTHON, "-c", _STUDY, str(n_trials), str(seed), "1" if deliver else "0"],
                       env={"MLFLOW_TRACKING_URI": ""}, cwd=workdir)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(*, quick: bool) -> list[Row]:
    n_trials, repeats = (20, 1) if quick else (20, 3)
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for repeat in range(repeats):
        for deliver in (False, True):  # interleaved
            runs[deliver].append(_one_run(n_trials, seed=repeat, deliver=deliver))

    def median(key: str, *, deliver: bool) -> float:
        return statistics.median(run[key] for run in runs[deliver])

    study = median("process", deliver=False) - median("deliver", deliver=False)  # the study without a deliverable
    full = median("deliver", deliver=True)
    figures = median("deliver", deliver=False)
    share = ratio(full, study)
    rows = [
        Row(f"{n_trials}-trial kNN study, no deliverable (process)", study, "s"),
        Row("  of which trials", median("trials", deliver=False), "s"),
        Row("figures + trials.csv (--no-log-model)", figures, "s", "study", ratio(figures, study)),
        Row("deliverable: refit + model + registration + figures", full, "s", "study", share,
            f"< {TARGET:.0%}", share is not None and share < TARGET),
        Row("whole command with the deliverable (process)", median("process", deliver=True), "s", "study",
            ratio(median("process", deliver=True), study)),
    ]
    print_table(f"B6 the study's deliverable ({n_trials}-trial kNN study, median of {repeats} fresh processes)", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
