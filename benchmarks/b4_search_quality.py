"""B4 search quality at equal budget: our default study against RandomizedSearchCV and the prototype's grid.

For each dataset (synthetic, breast_cancer, digits), model (knn, random-forest) and
seed (0, 1, 2), on the training split (``load_dataset`` defaults: test_size 0.25,
split_seed 123), with the same folds (StratifiedKFold(5, shuffle=True,
random_state=search.evaluation.FOLD_SEED)) and the same StandardScaler pipeline
(``ModelSpec.build``):

- ours: what ``search study MODEL --n-trials 30 --seed S`` runs, in-process and
  without MLflow: TPE sampler and median pruner (`search.study.samplers`), its objective
  (`search.study.objective`) over the model's `SearchSpace`, an in-memory study. Pruned
  trials count toward the 30 but are not full evaluations; the best is taken among
  complete trials. Each complete trial also fits a final model for its test score,
  which is in our wall time (the others refit only their winner).
- random: scikit-learn's RandomizedSearchCV with 30 samples of the same space, drawn
  from each declared parameter's Optuna distribution (`ParamDistribution` over
  `Param.distribution`, as Optuna's random sampler draws it: log-uniform integers,
  None half the time for a nullable one).
- grid: GridSearchCV over the original prototype's grid (10 kNN, 24 forest configurations).

Reported per (dataset, model), medians over seeds: best CV accuracy, the winner's
held-out test accuracy (refit on the whole training split) and wall time.
Target: our best CV >= RandomizedSearchCV's and >= the grid's, in less wall time than the grid.
``--quick``: synthetic data only, seed 0, 10 trials. The full run takes roughly half an
hour on 2 cores, most of it random forests (RandomizedSearchCV samples up to 500 trees).

    python -m benchmarks.b4_search_quality [--quick]
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

from benchmarks._common import Row, cli, print_frame, print_table, ratio

DATASETS = ("synthetic", "breast_cancer", "digits")
MODELS = ("knn", "random-forest")
SEEDS = (0, 1, 2)
N_TRIALS = 30
CV = 5
METRIC = "accuracy"

#: The original prototype's grids.
GRIDS = {
    "knn": {"n_neighbors": [3, 5, 7, 11, 15], "weights": ["uniform", "distance"]},
    "random-forest": {"max_depth": [2, 3, 5, None], "n_estimators": [50, 100, 200], "min_samples_split": [2, 5]},
}


class ParamDistribution:
    """One declared parameter as a scipy-style distribution (``rvs``) for RandomizedSearchCV.

    Draws from the parameter's own Optuna distribution (`Param.distribution`) as
    Optuna's RandomSampler does: a nullable parameter is None half the time (its
    ``<name>_is_none`` switch); integers are uniform over their steps, or
    log-uniform over [low - 0.5, high + 0.5] rounded; floats uniform (log-uniform
    with ``log``, on their steps with ``step``); categoricals are uniform.
    """

    def __init__(self, param: Any) -> None:
        self.param = param
        self.distribution = param.distribution()
        self.nullable = bool(getattr(param, "nullable", False))

    def rvs(self, random_state: Any = None) -> Any:
        import numpy as np
        from optuna.distributions import CategoricalDistribution, IntDistribution
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        dist = self.distribution
        if self.nullable and rng.randint(2):
            return None
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[rng.randint(len(dist.choices))]
        low, high, step = dist.low, dist.high, dist.step
        if isinstance(dist, IntDistribution):
            if dist.log:
                drawn = np.exp(rng.uniform(np.log(low - 0.5), np.log(high + 0.5)))
                return int(min(max(round(drawn), low), high))
            return int(low + step * rng.randint((high - low) // step + 1))
        if dist.log:
            return float(np.exp(rng.uniform(np.log(low), np.log(high))))
        if step is not None:
            return float(min(low + step * rng.randint(round((high - low) / step) + 1), high))
        return float(rng.uniform(low, high))

    def __repr__(self) -> str:
        return f"ParamDistribution({self.param.name}: {self.param.describe()})"


def random_space(spec: Any) -> dict[str, ParamDistribution]:
    """RandomizedSearchCV's ``param_distributions`` for a model's whole declared search space."""
    conditional = [p.name for p in spec.params if p.when]
    if conditional:  # RandomizedSearchCV draws every parameter independently
        raise ValueError(f"{spec.name}: conditional parameters ({', '.join(conditional)}) are not supported here")
    return {f"model__{p.name}": ParamDistribution(p) for p in spec.params}


@dataclass
class Outcome:
    cv: float
    test: float
    wall: float
    complete: int


def folds() -> Any:
    from sklearn.model_selection import StratifiedKFold

    from search.evaluation import FOLD_SEED

    return StratifiedKFold(n_splits=CV, shuffle=True, random_state=FOLD_SEED)


def run_ours(spec: Any, data: Any, seed: int, n_trials: int) -> Outcome:
    import optuna

    from models import SearchSpace
    from search.defaults import Pruner, Sampler
    from search.evaluation import Scoring
    from search.study.objective import make_objective
    from search.study.samplers import make_pruner, make_sampler
    from search.tracking import METRICS_ATTRIBUTE_KEY

    study = optuna.create_study(
        direction="maximize", sampler=make_sampler(Sampler.tpe, seed), pruner=make_pruner(Pruner.median, CV)
    )
    objective = make_objective(SearchSpace([spec]), data, Scoring(METRIC, CV), seed)
    started = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, catch=(ValueError,), gc_after_trial=False)
    wall = time.perf_counter() - started
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value)
    return Outcome(best.value, best.user_attrs[METRICS_ATTRIBUTE_KEY][f"test_{METRIC}"], wall, len(complete))


def run_sklearn(search_cv: Any, data: Any, evaluations: int) -> Outcome:
    from sklearn.metrics import get_scorer

    started = time.perf_counter()
    search_cv.fit(data.X_train, data.y_train)
    wall = time.perf_counter() - started
    test = get_scorer(METRIC)(search_cv.best_estimator_, data.X_test, data.y_test)
    return Outcome(float(search_cv.best_score_), float(test), wall, evaluations)


def run_random(spec: Any, data: Any, seed: int, n_trials: int) -> Outcome:
    from sklearn.model_selection import RandomizedSearchCV

    search_cv = RandomizedSearchCV(
        spec.build(spec.resolve(), seed), random_space(spec), n_iter=n_trials, scoring=METRIC, cv=folds(),
        random_state=seed, refit=True,
    )
    return run_sklearn(search_cv, data, n_trials)


def run_grid(spec: Any, data: Any, seed: int) -> Outcome:
    from sklearn.model_selection import GridSearchCV

    grid = {f"model__{name}": values for name, values in GRIDS[spec.name].items()}
    search_cv = GridSearchCV(spec.build(spec.resolve(), seed), grid, scoring=METRIC, cv=folds(), refit=True)
    return run_sklearn(search_cv, data, math.prod(len(v) for v in grid.values()))


def _median(outcomes: list[Outcome], field: str) -> float:
    return statistics.median(getattr(o, field) for o in outcomes)


def _at_least(ours: float, theirs: float) -> bool:
    """``ours >= theirs`` up to float noise: a mean over the same folds summed in another order."""
    return ours >= theirs - 1e-9


def main(*, quick: bool) -> list[Row]:
    import optuna
    import pandas as pd

    from search.data import load_dataset
    from search.plugins import get_model

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    datasets, seeds, n_trials = (("synthetic",), (0,), 10) if quick else (DATASETS, SEEDS, N_TRIALS)

    detail, rows = [], []
    for dataset in datasets:
        data = load_dataset(dataset)
        if dataset == datasets[0]:  # first calls import and initialise a lot: keep that out of the first figure
            knn = get_model("knn")
            run_ours(knn, data, 0, 2), run_random(knn, data, 0, 1), run_grid(knn, data, 0)
        for model in MODELS:
            spec = get_model(model)
            results: dict[str, list[Outcome]] = {"ours": [], "random": [], "grid": []}
            for seed in seeds:
                results["ours"].append(run_ours(spec, data, seed, n_trials))
                results["random"].append(run_random(spec, data, seed, n_trials))
                results["grid"].append(run_grid(spec, data, seed))
                print(f"  {dataset:13s} {model:13s} seed {seed}: " + " | ".join(
                    f"{k} cv {v[-1].cv:.4f} test {v[-1].test:.4f} {v[-1].wall:6.1f} s" for k, v in results.items()
                ) + f" | ours complete {results['ours'][-1].complete}/{n_trials}", flush=True)
            cv = {k: _median(v, "cv") for k, v in results.items()}
            test = {k: _median(v, "test") for k, v in results.items()}
            wall = {k: _median(v, "wall") for k, v in results.items()}
            detail.append({
                "data": dataset, "model": model,
                **{f"cv {k}": cv[k] for k in results},
                "ours/random": ratio(cv["ours"], cv["random"]), "ours/grid": ratio(cv["ours"], cv["grid"]),
                **{f"test {k}": test[k] for k in results},
                **{f"wall {k} s": wall[k] for k in results},
                "wall ours/grid": ratio(wall["ours"], wall["grid"]),
                "ours complete": f"{_median(results['ours'], 'complete'):g}/{n_trials}",
            })
            name = f"{dataset}/{model}"
            rows += [
                Row(f"{name} best CV", cv["ours"], "", "RandomizedSearchCV", ratio(cv["ours"], cv["random"]),
                    ">= 1x", _at_least(cv["ours"], cv["random"])),
                Row(f"{name} best CV", cv["ours"], "", "grid", ratio(cv["ours"], cv["grid"]), ">= 1x",
                    _at_least(cv["ours"], cv["grid"])),
                Row(f"{name} wall", wall["ours"], "s", "grid", ratio(wall["ours"], wall["grid"]), "< 1x",
                    wall["ours"] < wall["grid"]),
            ]

    print_frame(
        f"B4 detail: medians over seeds {list(seeds)}, {n_trials} trials/samples, {CV}-fold CV accuracy",
        pd.DataFrame(detail),
        {"ours/random": "{:.4f}x", "ours/grid": "{:.4f}x", "wall ours s": "{:.2f}", "wall random s": "{:.2f}",
         "wall grid s": "{:.2f}", "wall ours/grid": "{:.2f}x"},
    )
    print_table("B4 search quality at equal budget (ours = TPE + median pruner, the default study)", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
