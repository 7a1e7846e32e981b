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
        Int("max_iter", default=200, search=(50, 1000), minimum=1, log=True,
            help="Most boosting rounds (early stopping may end sooner)."),
        Int("max_leaf_nodes", default=31, search=(8, 128), minimum=2, log=True, help="Leaves per tree."),
        Int("min_samples_leaf", default=20, search=(2, 100), minimum=1, log=True, help="Samples a leaf must keep."),
        Float("l2_regularization", default=1e-6, search=(1e-6, 10.0), minimum=0.0, log=True,
              help="L2 penalty on leaf values."),
    ),
    # Early stopping on a tenth of the training rows, so max_iter is a ceiling, not a cost.
    fixed={"early_stopping": True, "n_iter_no_change": 10},
    work_bound="at most 1,000 boosting rounds, stopped early after 10 without progress",
    seed_param="random_state",
    # A fitted booster keeps its trees' predictors (and, classifying, its early-stopping scorer's input check).
    skops_trusted_types=(
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "functools.partial",
        "sklearn.utils.validation.check_array",
    ),
    needs=Needs(scale=False, encoding=Encoding.native, impute=False, categorical_param="categorical_features"),
)
