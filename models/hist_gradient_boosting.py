"""scikit-learn's histogram gradient boosting: categories and blanks taken natively, stopped early."""

from models import Encoding, Float, Int, ModelSpec, Needs

MODEL = ModelSpec(
    name="hist-gradient-boosting",
    aliases=("hgb", "gradient-boosting", "gbm"),
    summary="histogram gradient boosting",
    estimator="sklearn.ensemble:HistGradientBoostingClassifier",
    regressor="sklearn.ensemble:HistGradientBoostingRegressor",
    params=(
        Float("learning_rate", default=0.1, search=(0.01, 0.3), minimum=1e-6, log=True,
              help="Shrinkage of each tree's contribution."),
        Int("max_iter", default=100, search=(50, 1000), minimum=1, log=True,
            help="Most boosting rounds (early stopping may end sooner)."),
        Int("max_leaf_nodes", default=31, search=(8, 128), minimum=2, log=True, help="Leaves per tree."),
        Int("min_samples_leaf", default=20, search=(2, 100), minimum=1, log=True, help="Samples a leaf must keep."),
        Float("l2_regularization", default=1e-6, search=(1e-6, 10.0), minimum=0.0, log=True,
              help="L2 penalty on leaf values."),
    ),
    # scikit-learn's own rule: past 10,000 rows, early stopping on a tenth of them (max_iter is then a ceiling,
    # not a cost); below, every row is fitted, which a small table needs more than the time it saves.
    fixed={"early_stopping": "auto", "n_iter_no_change": 10},
    work_bound="at most 1,000 boosting rounds; past 10,000 rows, stopped early after 10 without progress",
    seed_param="random_state",
    # A fitted booster keeps its trees' predictors (and, classifying, its early-stopping scorer's input check).
    skops_trusted_types=(
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "functools.partial",
        "sklearn.utils.validation.check_array",
    ),
    needs=Needs(scale=False, encoding=Encoding.native, impute=False, categorical_param="categorical_features"),
)
