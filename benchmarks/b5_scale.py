"""B5 scale: reading and resuming a 10,000-trial study in the default sqlite storage.

The study looks like one ``search study knn`` made: kNN parameters (from its
`SearchSpace`), five fold-by-fold intermediate values (running means), the
``search``, ``mlflow_metrics`` (with the ``fold_accuracy`` series) and
``mlflow_run_id`` user attributes, the study's ``settings`` and parent-run id, and
one trial in ten pruned. Its objective is trivial, so what is measured is the
storage and the sampler, never the model.

Measured (fresh processes, median of 5 runs, 3 with ``--quick``):

- ``search best NAME --storage URL`` and ``search trials NAME --storage URL --format csv``,
  compared with the same command on a 10-trial study (``import optuna`` is shown as the floor);
- resuming: a process that opens the study the way ``search study`` does
  (`search.study.runner.plan_study`, which loads the data, then `open_study`: TPE
  multivariate/group, median pruner, settings check) and runs one trial of a trivial
  objective over the kNN `SearchSpace`, compared with the same process on a fresh
  empty study; the difference is the resume overhead.

Targets: ``search best`` under 1 s; resume overhead under 2 s. ``--quick``: 1,000 trials.
Building the study (not timed): 200 trials are added through Optuna, then copied
row by row in SQL to reach the size (adding 10,000 trials one by one through
Optuna would take minutes); Optuna then reads the result back as a check.

    python -m benchmarks.b5_scale [--quick]
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from benchmarks._common import PYTHON, Row, cli, print_frame, print_table, ratio, run_cmd, run_cmd_time, venv_script

BEST_TARGET_S = 1.0
RESUME_TARGET_S = 2.0
TEMPLATE_TRIALS = 200
SMALL_TRIALS = 10

#: Open a study as `search study` does and run one trial; prints the phases' seconds as JSON.
_RESUME = """
import json, sys, time
started = time.perf_counter()
import optuna
from search.stores.optuna_storage import open_storage
from search.study import StudyConfig
from search.study.plan import open_study, plan_study
optuna.logging.set_verbosity(optuna.logging.WARNING)
imported = time.perf_counter()
config = StudyConfig(models=("knn",), study_name=sys.argv[1], storage=sys.argv[2])
plan = plan_study(config)
planned = time.perf_counter()
study = open_study(plan, open_storage(config.storage))
opened = time.perf_counter()

def objective(trial):
    spec, params = config.space.sample(trial)
    return 1.0 - abs(params["n_neighbors"] - 7) / 100 + (0.01 if params["weights"] == "distance" else 0.0)

study.optimize(objective, n_trials=1)
done = time.perf_counter()
print(json.dumps({"import": imported - started, "plan": planned - imported, "open": opened - planned,
                  "trial": done - opened, "trials": len(study.get_trials(deepcopy=False))}))
"""


def _draw(distribution: Any, rng: random.Random) -> Any:
    """A value of an Optuna distribution, uniformly (on its steps; log scale ignored: any value will do)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return rng.choice(distribution.choices)
    if isinstance(distribution, IntDistribution):
        return rng.randrange(distribution.low, distribution.high + 1, distribution.step)
    return rng.uniform(distribution.low, distribution.high)


def _template_trials(n: int, seed: int = 0) -> list:
    """``n`` trials shaped like a real kNN study's (pruned ones included), over its `SearchSpace`."""
    import optuna

    from models import SearchSpace
    from search.evaluation import Scoring
    from search.plugins import get_model
    from search.tracking import METRICS_ATTRIBUTE_KEY, RUN_ID_ATTRIBUTE_KEY
    from search.trials import TRIAL_ATTRIBUTE_KEY

    rng = random.Random(seed)
    space = SearchSpace([get_model("knn")])
    scoring = Scoring()
    fold_name = f"fold_{scoring.metric}"
    trials = []
    for _ in range(n):
        params: dict[str, Any] = {}
        distributions = {}
        for dimension in space.dimensions:
            if dimension.active(params):
                distributions[dimension.name] = dimension.distribution()
                params[dimension.name] = _draw(distributions[dimension.name], rng)
        _, knn = space.decode(params)
        score = 0.95 - abs(knn["n_neighbors"] - 7) / 200 + rng.gauss(0, 0.01)
        folds = [score + rng.gauss(0, 0.01) for _ in range(scoring.cv)]
        means = {step: statistics.fmean(folds[: step + 1]) for step in range(scoring.cv)}  # what is reported
        attrs: dict[str, Any] = {
            TRIAL_ATTRIBUTE_KEY: {"seed": seed, "worker": "bench:1"},
            RUN_ID_ATTRIBUTE_KEY: f"{rng.getrandbits(128):032x}",
        }
        if rng.random() < 0.1:
            pruned_at = rng.randint(1, scoring.cv - 1)
            attrs[METRICS_ATTRIBUTE_KEY] = {fold_name: folds[: pruned_at + 1]}
            trials.append(optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED, params=params, distributions=distributions,
                value=means[pruned_at], intermediate_values={s: v for s, v in means.items() if s <= pruned_at},
                user_attrs=attrs,
            ))
            continue
        cv_score = statistics.fmean(folds)
        attrs[METRICS_ATTRIBUTE_KEY] = {
            "fit_time": rng.uniform(0.001, 0.01), f"train_{scoring.metric}": min(1.0, score + 0.03),
            f"test_{scoring.metric}": score + rng.gauss(0, 0.01), scoring.cv_name: cv_score,
            f"{scoring.cv_name}_std": statistics.pstdev(folds), fold_name: folds,
        }
        trials.append(optuna.trial.create_trial(
            params=params, distributions=distributions, value=cv_score, intermediate_values=means, user_attrs=attrs,
        ))
    return trials


def _replicate(db: Path, study_id: int, first_id: int, block: int, copies: int) -> None:
    """Append ``copies`` copies of trials ``first_id .. first_id+block-1`` (and their rows) to the study."""
    with closing(sqlite3.connect(db)) as con, con:  # closed at the end, committed if nothing failed
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        child_tables = {}
        for table in tables:
            info = con.execute(f"PRAGMA table_info({table})").fetchall()  # (cid, name, type, notnull, default, pk)
            names = [c[1] for c in info]
            if table != "trials" and "trial_id" in names:
                child_tables[table] = [c[1] for c in info if not c[5]]  # without their own primary key
        trial_columns = [c[1] for c in con.execute("PRAGMA table_info(trials)").fetchall()]
        for copy in range(1, copies + 1):
            shift = copy * block
            shifted = {"trial_id": f"trial_id + {shift}", "number": f"number + {shift}"}
            select = ", ".join(shifted.get(c, c) for c in trial_columns)
            con.execute(
                f"INSERT INTO trials ({', '.join(trial_columns)}) SELECT {select} FROM trials "
                "WHERE study_id = ? AND trial_id BETWEEN ? AND ?", (study_id, first_id, first_id + block - 1),
            )
            for table, cols in child_tables.items():
                select = ", ".join(f"trial_id + {shift}" if c == "trial_id" else c for c in cols)
                con.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} "
                    "WHERE trial_id BETWEEN ? AND ?", (first_id, first_id + block - 1),
                )


def _no_sync(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def build_study(url: str, db: Path, name: str, n_trials: int) -> None:
    """A ``n_trials``-trial kNN-like study named ``name`` in the sqlite file ``db`` (``url``)."""
    import optuna
    from sqlalchemy import event

    from search.study import StudyConfig
    from search.tracking import STUDY_RUN_ATTRIBUTE_KEY
    from search.trials import SETTINGS_ATTRIBUTE_KEY

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    # Only while building: no fsync per added trial (Optuna commits each one); the file stays a normal database.
    event.listen(storage.engine, "connect", _no_sync)
    storage.engine.dispose()
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr(SETTINGS_ATTRIBUTE_KEY, StudyConfig(models=("knn",), study_name=name, storage=url).settings())
    study.set_user_attr(STUDY_RUN_ATTRIBUTE_KEY, f"{random.Random(name).getrandbits(128):032x}")
    block = min(n_trials, TEMPLATE_TRIALS)
    if n_trials % block:
        raise ValueError(f"{n_trials} trials is not a multiple of {block}")
    study.add_trials(_template_trials(block))
    trial_ids = [t._trial_id for t in study.get_trials(deepcopy=False)]
    first_id = min(trial_ids)
    if trial_ids != list(range(first_id, first_id + block)):
        raise RuntimeError("template trial ids are not contiguous; cannot copy them")
    storage.engine.dispose()
    _replicate(db, study._study_id, first_id, block, n_trials // block - 1)
    loaded = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    if [t.number for t in loaded] != list(range(n_trials)) or any(not t.params for t in loaded):
        raise RuntimeError(f"study {name!r} did not read back as {n_trials} well-formed trials")


def resume_times(name: str, url: str, repeats: int, *, fresh: bool) -> dict[str, float]:
    """Medians of the resume process's wall time and phases (a new empty study each run if ``fresh``)."""
    runs = []
    for i in range(repeats + 1):  # the first run warms the caches and is not counted
        study = f"{name}-{i}" if fresh else name
        started = time.perf_counter()
        phases = json.loads(run_cmd([PYTHON, "-c", _RESUME, study, url]).stdout.strip().splitlines()[-1])
        phases["wall"] = time.perf_counter() - started
        if i:
            runs.append(phases)
    return {key: statistics.median(run[key] for run in runs) for key in ("wall", "import", "plan", "open", "trial")}


def main(*, quick: bool) -> list[Row]:
    import pandas as pd

    n_trials = 1_000 if quick else 10_000
    repeats = 3 if quick else 5
    search = venv_script("search")
    with tempfile.TemporaryDirectory() as workdir:
        db = Path(workdir) / "optuna.db"
        url = f"sqlite:///{db}"
        started = time.perf_counter()
        build_study(url, db, "big", n_trials)
        build_study(url, db, "small", SMALL_TRIALS)
        print(f"(setup, not timed: {n_trials:,}-trial and {SMALL_TRIALS}-trial studies built in "
              f"{time.perf_counter() - started:.1f} s; {db.stat().st_size / 1e6:.1f} MB)")

        commands = {
            "search best": ["best", "--storage", url],
            "search trials --format csv": ["trials", "--storage", url, "--format", "csv"],
        }
        floor = run_cmd_time([PYTHON, "-c", "import optuna"], repeats, cwd=workdir)
        rows = [Row("python -c 'import optuna' (floor)", floor, "s")]
        for label, args in commands.items():
            small = run_cmd_time([search, args[0], "small", *args[1:]], repeats, cwd=workdir)
            big = run_cmd_time([search, args[0], "big", *args[1:]], repeats, cwd=workdir)
            target, met = "", None
            if label == "search best":
                target, met = f"< {BEST_TARGET_S:g} s", big < BEST_TARGET_S
            rows.append(Row(f"{label} ({SMALL_TRIALS} trials)", small, "s", f"{SMALL_TRIALS} trials", 1.0))
            rows.append(Row(f"{label} ({n_trials:,} trials)", big, "s", f"{SMALL_TRIALS} trials", ratio(big, small),
                            target, met))

        fresh = resume_times("fresh", url, repeats, fresh=True)
        resumed = resume_times("big", url, repeats, fresh=False)
    overhead = resumed["wall"] - fresh["wall"]
    rows.append(Row("open + 1 trial, fresh study (process)", fresh["wall"], "s", "fresh study", 1.0))
    rows.append(Row(f"open + 1 trial, {n_trials:,}-trial study", resumed["wall"], "s", "fresh study",
                    ratio(resumed["wall"], fresh["wall"])))
    rows.append(Row("resume overhead (difference)", overhead, "s", "", None, f"< {RESUME_TARGET_S:g} s",
                    overhead < RESUME_TARGET_S))
    print_table(f"B5 scale: {n_trials:,}-trial study in sqlite, median of {repeats} fresh processes", rows)
    print_frame("resume phases inside the process (median s)", pd.DataFrame(
        [{"study": label, "imports": p["import"], "plan_study (data)": p["plan"], "open_study": p["open"],
          "one trial (TPE sample + tell)": p["trial"], "process wall": p["wall"]}
         for label, p in (("fresh", fresh), (f"{n_trials:,} trials", resumed))]
    ))
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
