"""k-nearest neighbours, the first model of the original prototype."""

from collections.abc import Mapping
from typing import Any

from models import Categorical, DataShape, Int, ModelSpec


def enough_rows(params: Mapping[str, Any], n_rows: int) -> str | None:
    """kNN needs at least ``n_neighbors`` rows to fit on (scikit-learn's fast path does not always say so)."""
    k = params["n_neighbors"]
    return f"n_neighbors={k} is more than the {n_rows} rows it is fitted on" if k > n_rows else None


def neighbours_in_a_fold(shape: DataShape) -> dict[str, tuple[int, int]]:
    """No more neighbours than the rows the smallest fold fits on."""
    return {"n_neighbors": (1, shape.fold_rows)}


MODEL = ModelSpec(
    name="knn",
    aliases=("kneighbors",),
    summary="k-nearest neighbours",
    estimator="sklearn.neighbors:KNeighborsClassifier",
    regressor="sklearn.neighbors:KNeighborsRegressor",
    params=(
        Int("n_neighbors", default=5, search=(1, 50), minimum=1, help="Neighbours that vote."),
        Categorical("weights", default="uniform", choices=("uniform", "distance"), help="How votes are weighted."),
        Categorical("p", default=2, choices=(1, 2), help="Minkowski power: 1 Manhattan, 2 Euclidean."),
    ),
    # A fitted kNN keeps its search tree and distance; MLflow's skops format must trust them.
    skops_trusted_types=(
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
    ),
    fit_check=enough_rows,
    work_bound="no solver: one index of the rows, one search per scored row",
    bounds=neighbours_in_a_fold,
)
