"""B1 Tracking overhead: our MLflowCallback against no tracking and against optuna-integration's.

(a) a 100-trial kNN study on the default data, 5-fold CV, untracked; (b) the same
tracked by our callback as ``search study`` uses it (study run + background
writer) and, for reference, in its drop-in synchronous default; (c) the same
tracked by ``optuna_integration.mlflow.MLflowCallback``. Then the per-trial
logging cost on a trivial objective (300 trials), and what ``search sync``
costs per trial to log the same trials afterwards (after an outage: a study
whose trials have no run yet), against logging them during the study
(target: at most 2x, issue #18). Every variant runs in this
process on a fresh copy of the same pre-migrated sqlite MLflow store, with the
same in-memory Optuna storage kind and the same random sampler seed, so each
does exactly the same trials; variants are interleaved and repeated, medians
are reported. Times include starting our writer process (forked while the
process is single-threaded, see search.common.processes; the callback is made
inside the timed region) and waiting for it to finish (``close``).
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import Row, cli, print_table, ratio


def _study_seconds(objective: Callable, n_trials: int, make_callback: Callable[[], Any]) -> float:
    import optuna

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), pruner=optuna.pruners.NopPruner()
    )
    started = time.perf_counter()
    callback = make_callback()
    study.optimize(objective, n_trials=n_trials, callbacks=[callback] if callback else [])
    if hasattr(callback, "close"):
        callback.close()
    return time.perf_counter() - started


class _InANotebook:
    """Our callback as `search.tune` uses it in a Jupyter kernel, where threads always run: its writer comes from
    the fork server (started by the first variant that needs it, its start timed there)."""

    def __init__(self, uri: str) -> None:
        import threading

        from search.tracking import MLflowCallback

        self._kernel = threading.Event()
        threading.Thread(target=self._kernel.wait, daemon=True).start()  # a kernel's threads, say
        self._callback = MLflowCallback(uri, metric_name="cv_accuracy", study_run=True, background=True)

    def __call__(self, study: Any, trial: Any) -> None:
        self._callback(study, trial)

    def close(self) -> None:
        self._callback.close()
        self._kernel.set()


def _sync_seconds(objective: Callable, n_trials: int, uri: str) -> float:
    """Seconds ``callback.sync`` takes to give ``n_trials`` finished trials, none logged yet, their runs."""
    import optuna

    from search.tracking import MLflowCallback

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials)  # the store was down all along: nothing logged
    started = time.perf_counter()
    callback = MLflowCallback(uri, metric_name="cv_accuracy", study_run=True)
    report = callback.sync(study)
    callback.close()
    assert len(report.created) == n_trials
    return time.perf_counter() - started


def main(*, quick: bool) -> list[Row]:
    import optuna
    from mlflow import MlflowClient
    from threadpoolctl import threadpool_limits

    from models import SearchSpace
    from search.data import load_dataset
    from search.evaluation import Scoring
    from search.plugins import get_model
    from search.study.objective import make_objective
    from search.tracking import MLflowCallback

    try:
        from optuna_integration.mlflow import MLflowCallback as OldCallback
    except ImportError:
        raise SystemExit("B1 needs optuna-integration: pip install -e '.[bench]'") from None

    warnings.filterwarnings("ignore")
    # MLflow's telemetry starts a thread at the first experiment a variant creates; that thread would make
    # every later variant's writer start by the fork server instead of fork. `search study` turns telemetry off too.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="b1-"))
    template = workdir / "template.db"
    MlflowClient(f"sqlite:///{template}").search_experiments()
    counter = iter(range(10**6))

    def fresh_uri() -> str:
        path = workdir / f"mlflow-{next(counter)}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    variants: dict[str, Callable[[str], Any]] = {  # tracking URI -> callback
        "untracked": lambda uri: None,
        "ours (search study)": lambda uri: MLflowCallback(uri, metric_name="cv_accuracy", study_run=True,
                                                          background=True),
        "ours (notebook, search.tune)": _InANotebook,
        "ours (drop-in sync)": lambda uri: MLflowCallback(uri, metric_name="cv_accuracy"),
        "optuna-integration": lambda uri: OldCallback(tracking_uri=uri, metric_name="cv_accuracy"),
    }
    knn_trials, trivial_trials, repeats = (60, 60, 1) if quick else (100, 300, 3)
    objective = make_objective(SearchSpace([get_model("knn")]), load_dataset(), Scoring("accuracy", 5), seed=0)

    def trivial(trial: optuna.trial.Trial) -> float:
        return trial.suggest_float("x", -1.0, 1.0) ** 2

    knn: dict[str, list[float]] = {name: [] for name in variants}
    cheap: dict[str, list[float]] = {name: [] for name in variants}
    synced: list[float] = []
    with threadpool_limits(limits=1):  # trials are the unit of parallelism; see search.study.runner
        for _ in range(repeats):
            for name, make in variants.items():  # interleaved, so drift hits every variant alike
                seconds = _study_seconds(objective, knn_trials, functools.partial(make, fresh_uri()))
                knn[name].append(seconds / knn_trials * 1000)
                seconds = _study_seconds(trivial, trivial_trials, functools.partial(make, fresh_uri()))
                cheap[name].append(seconds / trivial_trials * 1000)
            synced.append(_sync_seconds(trivial, trivial_trials, fresh_uri()) / trivial_trials * 1000)
    shutil.rmtree(workdir, ignore_errors=True)

    per_trial = {name: statistics.median(values) for name, values in knn.items()}
    base = per_trial["untracked"]
    rows = [Row(f"kNN study, {name}", per_trial[name], "ms/trial", "untracked", ratio(per_trial[name], base))
            for name in variants]
    b_over_a = ratio(per_trial["ours (search study)"], base)
    rows.append(Row("b/a: ours (search study) / untracked", b_over_a, "x", target="<= 1.10",
                    met=b_over_a is not None and b_over_a <= 1.10))
    notebook = ratio(per_trial["ours (notebook, search.tune)"], base)
    rows.append(Row("notebook path (writer from the fork server) / untracked", notebook, "x", target="<= 1.10",
                    met=notebook is not None and notebook <= 1.10))

    cheap_base = statistics.median(cheap["untracked"])
    cost = {name: statistics.median(values) - cheap_base for name, values in cheap.items() if name != "untracked"}
    rows += [Row(f"logging cost per trial, {name}", cost[name], "ms/trial", "optuna-integration",
                 ratio(cost[name], cost["optuna-integration"])) for name in cost]
    ours_over_old = ratio(cost["ours (search study)"], cost["optuna-integration"])
    rows.append(Row("ours/old per-trial logging cost", ours_over_old, "x", target="<= 0.33",
                    met=ours_over_old is not None and ours_over_old <= 0.33))
    sync_cost = statistics.median(synced)
    sync_ratio = ratio(sync_cost, cost["ours (drop-in sync)"])
    rows.append(Row("search sync, per unlogged trial", sync_cost, "ms/trial", "logging during the study",
                    sync_ratio, "<= 2", sync_ratio is not None and sync_ratio <= 2))
    print_table(f"B1 tracking overhead ({knn_trials}-trial kNN study; {trivial_trials}-trial trivial study; "
                f"median of {repeats})", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
