"""Random forest, the second model of the original prototype."""

from models import Categorical, DataShape, Encoding, Int, ModelSpec, Needs

#: Trees × rows a forest's fit may cost at most: 500 trees up to 40k rows, fewer beyond (never under 50).
TREE_ROWS = 20_000_000


def trees_for_rows(shape: DataShape) -> dict[str, tuple[int, int]]:
    """No more trees than `TREE_ROWS` allows on the rows a fold fits on, so a forest's fit stays bounded."""
    return {"n_estimators": (1, max(50, TREE_ROWS // max(shape.fold_rows, 1)))}

MODEL = ModelSpec(
    name="random-forest",
    aliases=("rf", "random_forest", "randomforest"),
    summary="random forest",
    estimator="sklearn.ensemble:RandomForestClassifier",
    regressor="sklearn.ensemble:RandomForestRegressor",
    params=(
        Int("n_estimators", default=20, search=(10, 500), minimum=1, log=True, help="Trees in the forest."),
        Int(
            "max_depth", default=3, search=(2, 32), minimum=1, log=True, nullable=True,
            none_means="unlimited", help="Deepest a tree may grow.",
        ),
        Int("min_samples_split", default=2, search=(2, 20), minimum=2, help="Samples needed to split a node."),
        Int("min_samples_leaf", default=1, search=(1, 20), minimum=1, help="Samples a leaf must keep."),
        Categorical(
            "max_features", default="sqrt", choices=("sqrt", "log2", None),
            help="Features tried per split (none = all).",
        ),
        Categorical(
            "criterion", default="gini", choices=("gini", "entropy", "log_loss"), task="classification",
            help="Split quality measure (classification).",
        ),
    ),
    seed_param="random_state",
    starting_point={"n_estimators": 100, "max_depth": None},  # scikit-learn's forest, untuned
    bounds=trees_for_rows,
    work_bound=f"trees × rows at most {TREE_ROWS:,} (fewer trees on large tables, never under 50)",
    needs=Needs(scale=False, encoding=Encoding.ordinal),  # trees need no scaling; codes split as well as one-hot
    # A fitted forest is made of trees; MLflow's skops format must trust them.
    skops_trusted_types=("sklearn.tree._tree.Tree",),
)
