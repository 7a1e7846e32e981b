"""B4 search quality at equal wall time, on real tables: the toolkit as a user runs it against what they would run.

For each table (`benchmarks.tables`: ten real tables shipped in installed packages), budget
(30 s, 120 s) and seed (0, 1, 2): a 75/25 split (stratified when classifying) made first; the
toolkit gets the 75% as a CSV and runs as a user runs it, from the start of the command:

    search study all --data train.csv --target T --timeout BUDGET --seed S --register bench
    search predict models:/bench@champion --data test.csv

(tracked in ./mlflow.db, the deliverable and its figures on). Its wall time W, from the start of
the command to its end, is what every peer is given on the same rows (`benchmarks.peers`):
HistGradientBoosting with defaults, RandomizedSearchCV and HalvingRandomSearchCV over
HistGradientBoosting, a bare Optuna TPE study over the toolkit's own families and preprocessing
(the loop a data scientist writes: `tpe_loop`), and FLAML's AutoML with its own estimators.

Scores: the held-out metric (accuracy, or RMSE); and Bayesmark's normalised score per (table,
budget): 0 is the best any method reached over the seeds, 1 the median of random search (the
RandomizedSearchCV peer) at that budget; lower is better, means over tables and seeds.

    .venv/bin/pip install -q -e ".[bench]"
    python -m benchmarks.b4_search_quality [--quick] [--tables a,b] [--budgets 30,120] [--seeds 0,1,2] [--readme]

``--quick``: four small tables, 30 s, seed 0 (about 15 minutes). The full run takes about
10 tables × 2 budgets × 3 seeds × (ours + 5 peers) of wall time: 12 hours on 2 cores.
``--readme`` writes the results table into README.md between its B4 markers.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks._common import Row, print_frame, print_table, venv_script
from benchmarks.peers import PEERS, categories
from benchmarks.tables import QUICK_TABLES, TABLES, Table

METHODS = ("ours", "hgb-defaults", "random-search", "halving", "tpe-loop", "flaml")
README = Path(__file__).resolve().parent.parent / "README.md"
MARKERS = ("<!-- b4:start -->", "<!-- b4:end -->")


def split(table: Table, seed: int) -> tuple[Any, Any]:
    """The table's 75/25 split for ``seed``, stratified when classifying."""
    from sklearn.model_selection import train_test_split

    frame = table.load()
    strata = frame[table.target] if table.task == "classification" else None
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=strata)


def loss(table: Table, y_true: Any, y_pred: Any) -> float:
    """What each method is scored by, lower is better: 1 - accuracy, or RMSE."""
    import numpy as np

    if table.task == "classification":
        return float(np.mean(np.asarray(y_true).astype(str) != np.asarray(y_pred).astype(str)))
    return float(np.sqrt(np.mean((np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)) ** 2)))


def ours(table: Table, folder: Path, budget: float, seed: int) -> tuple[float, Any]:
    """The toolkit's wall time for ``search study all … --timeout budget`` and its champion's predictions."""
    import pandas as pd

    search = venv_script("search")
    started = time.perf_counter()
    study = subprocess.run([search, "study", "all", "--data", "train.csv", "--target", table.target, "--timeout",
                            str(budget), "--seed", str(seed), "--register", "bench", "--no-progress"],
                           cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if study.returncode != 0:
        raise RuntimeError(f"search study failed on {table.name}: {study.stderr.strip()[-500:]}")
    subprocess.run([search, "predict", "models:/bench@champion", "--data", "test.csv", "--output", "predicted.csv"],
                   cwd=folder, capture_output=True, text=True, check=True)
    return wall, pd.read_csv(folder / "predicted.csv").iloc[:, 0]


def tpe_loop(table: Table, folder: Path, seconds: float, seed: int) -> Any:
    """A bare Optuna TPE study over the toolkit's families and preprocessing: no starting points, no cost-aware
    choice of family, no pruning, no tracking; the best refitted on every row. Its predictions on test.csv."""
    import optuna
    import pandas as pd
    from sklearn.model_selection import cross_val_score

    from benchmarks.peers import folds, scorer
    from models import DataShape, SearchSpace
    from search.data import DataSpec, read_features
    from search.plugins import models_named

    started = time.perf_counter()
    data = DataSpec(str(folder / "train.csv"), table.target, test_size=0.25, split_seed=seed).load()
    X, y = pd.concat([data.X_train, data.X_test]), pd.concat([data.y_train, data.y_test])
    shape = DataShape(fold_rows=len(y) * (folds(table, seed).n_splits - 1) // folds(table, seed).n_splits,
                      features=X.shape[1])
    space = SearchSpace([spec.for_task(table.task, shape) for spec in models_named(["all"])
                         if table.task in spec.tasks])

    def objective(trial: optuna.Trial) -> float:
        spec, params = space.sample(trial)
        return cross_val_score(spec.build(params, seed, data.columns), X, y, cv=folds(table, seed),
                               scoring=scorer(table)).mean()

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    left = seconds - (time.perf_counter() - started)
    study.optimize(objective, timeout=max(left * 0.85, 1.0), catch=(ValueError,))  # a sixth left for the refit
    spec, params = space.decode(study.best_params)
    model = spec.build(params, seed, data.columns).fit(X, y)
    return model.predict(read_features(folder / "test.csv"))


def run_one(table: Table, budget: float, seed: int) -> dict[str, Any]:
    """Every method's held-out loss (and ours' wall time) on one split of ``table`` at ``budget``."""
    warnings.simplefilter("ignore")  # the peers' convergence and joblib warnings: the scores say what matters
    train, test = split(table, seed)
    result: dict[str, Any] = {"table": table.name, "budget": budget, "seed": seed}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        train.to_csv(folder / "train.csv", index=False)
        test.drop(columns=[table.target]).to_csv(folder / "test.csv", index=False)
        wall, predicted = ours(table, folder, budget, seed)
        result["wall"], result["ours"] = wall, loss(table, test[table.target], predicted)
        result["tpe-loop"] = loss(table, test[table.target], tpe_loop(table, folder, wall, seed))
    X, y = train.drop(columns=[table.target]), train[table.target]
    X, X_test = categories(X, test.drop(columns=[table.target]))
    for name, peer in PEERS.items():
        started = time.perf_counter()
        model = peer(table, X, y, wall, seed)
        result[f"{name} wall"] = time.perf_counter() - started
        result[name] = loss(table, test[table.target], model.predict(X_test))
    print(f"  {table.name} {budget:g}s seed {seed}: " + ", ".join(f"{m} {result[m]:.4g}" for m in METHODS)
          + f" (ours {wall:.1f} s)", flush=True)
    return result


def normalised(frame: Any) -> Any:
    """Bayesmark's normalised loss per row: 0 the best any method reached on its (table, budget), 1 random's median."""
    out = frame.copy()
    for _, group in frame.groupby(["table", "budget"]):
        best = group[list(METHODS)].min().min()
        median_random = group["random-search"].median()
        span = median_random - best
        for method in METHODS:
            out.loc[group.index, method] = (group[method] - best) / span if span > 0 else 0.0
    return out


def verdicts(frame: Any, budgets: list[float]) -> list[Row]:
    """The issue's targets, each as a row."""
    rows = []
    norm = normalised(frame)
    for budget in budgets:
        means = norm[norm.budget == budget][list(METHODS)].mean()
        best_peer = means.drop("ours").idxmin()
        rows.append(Row(f"mean normalised loss at {budget:g} s", round(means["ours"], 3), "", best_peer,
                        means["ours"] / means[best_peer] if means[best_peer] else None,
                        "ours below every peer", bool(means["ours"] < means.drop("ours").min())))
    per_pair = frame.groupby(["table", "budget"])[list(METHODS)].mean()
    ahead = (per_pair["ours"] < per_pair["flaml"]).mean()
    rows.append(Row("(table, budget) pairs where ours beats FLAML", f"{ahead:.0%}", "", "", None, ">= 60%",
                    bool(ahead >= 0.6)))
    noise = frame.groupby(["table", "budget"])["hgb-defaults"].std().fillna(0.0)
    gap = per_pair["ours"] - per_pair["hgb-defaults"]
    behind = [f"{t} {b:g}s" for (t, b), g in gap.items() if g > max(2 * noise[(t, b)], 1e-12)]
    rows.append(Row("pairs behind HGB defaults beyond seed noise", ", ".join(behind) or "none", "", "", None,
                    "none", not behind))
    return rows


def results_table(frame: Any) -> Any:
    """Mean held-out score per (table, budget) and method: accuracy, or RMSE."""
    by_pair = frame.groupby(["table", "budget"], sort=False)
    table = by_pair[list(METHODS)].mean()
    kinds = {t.name: t for t in TABLES}
    for (name, _), row in table.iterrows():
        if kinds[name].task == "classification":
            table.loc[(name, _)] = 1.0 - row  # accuracy, as users read it
    table["metric"] = [kinds[name].metric for name, _ in table.index]
    table["ours wall (s)"] = by_pair["wall"].mean()
    return table.reset_index()


def write_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(MARKERS[0]) + len(MARKERS[0]), readme.index(MARKERS[1])
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])


def main(*, quick: bool, tables: list[str] | None = None, budgets: list[float] | None = None,
         seeds: list[int] | None = None, readme: bool = False) -> list[Row]:
    import pandas as pd

    names = tables or (list(QUICK_TABLES) if quick else [t.name for t in TABLES])
    budgets = budgets or ([30.0] if quick else [30.0, 120.0])
    seeds = seeds if seeds is not None else ([0] if quick else [0, 1, 2])
    chosen = [t for t in TABLES if t.name in names]
    print(f"B4: {len(chosen)} tables × budgets {budgets} × seeds {seeds}", flush=True)
    frame = pd.DataFrame([run_one(table, budget, seed) for budget in budgets for table in chosen for seed in seeds])
    scores = results_table(frame)
    print_frame("B4 held-out score, mean over seeds (accuracy: higher is better; rmse: lower)", scores)
    norm = normalised(frame).groupby("budget")[list(METHODS)].mean().reset_index()
    print_frame("B4 mean normalised loss (0 = best reached, 1 = random search's median; lower is better)", norm)
    walls = frame[["table", "budget", "wall", *[c for c in frame.columns if c.endswith(" wall")]]]
    print_frame("B4 wall times (s): ours, then each peer given ours", walls)
    rows = verdicts(frame, budgets)
    print_table("B4 targets", rows)
    if readme:
        from benchmarks._common import format_table

        write_readme(f"Held-out score, mean over seeds {seeds} ({'quick mode' if quick else 'full run'}):\n\n"
                     f"```text\n{format_table(scores)}\n```\n\nMean normalised loss (0 = best reached, 1 = random "
                     f"search's median):\n\n```text\n{format_table(norm)}\n```")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four small tables, 30 s, seed 0")
    parser.add_argument("--tables", type=lambda text: text.split(","))
    parser.add_argument("--budgets", type=lambda text: [float(b) for b in text.split(",")])
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")])
    parser.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = parser.parse_args()
    main(quick=args.quick, tables=args.tables, budgets=args.budgets, seeds=args.seeds, readme=args.readme)
