"""What a data scientist would otherwise run on B4's tables, each given the same rows and the same wall time.

Every peer takes the training rows as pandas read them from the CSV the toolkit gets, and returns
a fitted model; the caller scores it on the held-out rows. String columns become pandas
categories (HistGradientBoosting and FLAML take those natively; blanks too).
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from benchmarks.tables import Table

CV = 5


def categories(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """String columns as categories, the test rows' coded with the training rows' categories."""
    import pandas as pd

    train, test = train.copy(), test.copy()
    for column in train.select_dtypes(include=[object]).columns:
        train[column] = train[column].astype("category")
        test[column] = pd.Categorical(test[column], categories=train[column].cat.categories)
    return train, test


def hgb(table: Table, **params: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kind = HistGradientBoostingClassifier if table.task == "classification" else HistGradientBoostingRegressor
    return kind(categorical_features="from_dtype", **params)


def hgb_defaults(table: Table, X: pd.DataFrame, y: pd.Series, seconds: float, seed: int) -> Any:
    """HistGradientBoosting as it comes: what a data scientist fits first."""
    return hgb(table, random_state=seed).fit(X, y)


def hgb_space() -> dict[str, Any]:
    """The toolkit's declared HistGradientBoosting ranges, as scipy distributions."""
    from scipy.stats import loguniform

    class LogInt:
        def __init__(self, low: int, high: int) -> None:
            self.floats = loguniform(low, high + 1)

        def rvs(self, random_state: Any = None) -> int:
            return int(self.floats.rvs(random_state=random_state))

    return {"learning_rate": loguniform(0.01, 0.3), "max_iter": LogInt(50, 1000), "max_leaf_nodes": LogInt(8, 128),
            "min_samples_leaf": LogInt(2, 100), "l2_regularization": loguniform(1e-6, 10.0)}


def folds(table: Table, seed: int) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    kind = StratifiedKFold if table.task == "classification" else KFold
    return kind(CV, shuffle=True, random_state=seed)


def scorer(table: Table) -> str:
    return "accuracy" if table.task == "classification" else "neg_root_mean_squared_error"


def random_search(table: Table, X: pd.DataFrame, y: pd.Series, seconds: float, seed: int) -> Any:
    """RandomizedSearchCV over HistGradientBoosting, run until the wall time is spent.

    ``RandomizedSearchCV`` takes a number of candidates, not a time: this draws them from its own
    sampler (``ParameterSampler``) and cross-validates each as it does, stopping when the time left is
    under one and a half typical candidates (the median so far): one more, and the refit.
    """
    from sklearn.model_selection import ParameterSampler, cross_val_score

    started = time.perf_counter()
    best: tuple[float, dict[str, Any]] | None = None
    spent: list[float] = []
    for params in ParameterSampler(hgb_space(), n_iter=100_000, random_state=seed):
        left = seconds - (time.perf_counter() - started)
        if spent and left < 1.5 * statistics.median(spent):
            break
        began = time.perf_counter()
        score = cross_val_score(hgb(table, random_state=seed, **params), X, y, cv=folds(table, seed),
                                scoring=scorer(table)).mean()
        spent.append(time.perf_counter() - began)
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    return hgb(table, random_state=seed, **best[1]).fit(X, y)


def halving_search(table: Table, X: pd.DataFrame, y: pd.Series, seconds: float, seed: int) -> Any:
    """HalvingRandomSearchCV over HistGradientBoosting (rows as the resource, factor 3).

    It takes a number of candidates, not a time: a quarter of the full cross-validations of the defaults
    that fit in the wall time (each of its rounds costs about that many; it has a few). Its own wall time
    is shown.
    """
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, cross_val_score

    began = time.perf_counter()
    cross_val_score(hgb(table, random_state=seed), X, y, cv=folds(table, seed), scoring=scorer(table))
    one = time.perf_counter() - began
    candidates = max(3, int((seconds - one) / one / 4))
    search = HalvingRandomSearchCV(hgb(table, random_state=seed), hgb_space(), n_candidates=candidates, factor=3,
                                   cv=folds(table, seed), scoring=scorer(table), random_state=seed, refit=True)
    return search.fit(X, y).best_estimator_


def flaml_automl(table: Table, X: pd.DataFrame, y: pd.Series, seconds: float, seed: int) -> Any:
    """FLAML's AutoML with its own estimators and its default settings, given the wall time."""
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X_train=X, y_train=y, task=table.task, metric=table.metric, time_budget=seconds, seed=seed,
               verbose=0)
    return automl


PEERS = {
    "hgb-defaults": hgb_defaults,
    "random-search": random_search,
    "halving": halving_search,
    "flaml": flaml_automl,
}
