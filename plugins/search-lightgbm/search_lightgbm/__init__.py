"""LightGBM, declared the way any third-party model family is: one `ModelSpec`, one entry point.

LightGBM takes blanks itself and splits on integer category codes, so the
toolkit only encodes the table's categories (no scaling, no imputation).
"""

from models import Encoding, Float, Int, ModelSpec, Needs

MODEL = ModelSpec(
    name="lightgbm",
    aliases=("lgbm",),
    summary="LightGBM gradient boosting",
    estimator="lightgbm:LGBMClassifier",
    regressor="lightgbm:LGBMRegressor",
    params=(
        Int("n_estimators", default=200, search=(50, 1000), minimum=1, log=True, help="Boosting rounds."),
        Float("learning_rate", default=0.1, search=(0.01, 0.3), minimum=1e-6, log=True,
              help="Shrinkage of each tree's contribution."),
        Int("num_leaves", default=31, search=(8, 256), minimum=2, log=True, help="Leaves per tree."),
        Int("min_child_samples", default=20, search=(2, 100), minimum=1, log=True,
            help="Rows a leaf must keep."),
        Float("subsample", default=1.0, search=(0.5, 1.0), minimum=0.01, maximum=1.0,
              help="Share of rows each tree sees."),
        Float("colsample_bytree", default=1.0, search=(0.5, 1.0), minimum=0.01, maximum=1.0,
              help="Share of columns each tree sees."),
        Float("reg_lambda", default=1e-8, search=(1e-8, 10.0), minimum=0.0, log=True, help="L2 penalty."),
    ),
    # One thread per trial: the toolkit runs trials side by side (--workers); quiet; rows resampled each round.
    fixed={"n_jobs": 1, "verbosity": -1, "subsample_freq": 1},
    seed_param="random_state",
    work_bound="at most 1,000 boosting rounds",
    needs=Needs(scale=False, encoding=Encoding.ordinal, impute=False),
    # A fitted LightGBM model holds its booster; MLflow's skops format must trust it to load it again.
    skops_trusted_types=(
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    ),
)
