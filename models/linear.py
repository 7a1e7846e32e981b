"""Linear models: logistic regression for classes, elastic-net regression for quantities."""

from models import Categorical, Float, ModelSpec

MODEL = ModelSpec(
    name="linear",
    aliases=("elasticnet", "elastic-net"),
    summary="logistic / elastic-net regression",
    estimator="sklearn.linear_model:LogisticRegression",
    regressor="sklearn.linear_model:ElasticNet",
    params=(
        Float("C", default=1.0, search=(1e-3, 1e3), minimum=1e-12, log=True, task="classification",
              help="Inverse penalty strength (smaller: simpler model)."),
        Categorical("solver", default="lbfgs", choices=("lbfgs", "saga"), task="classification",
                    help="lbfgs fits an L2 penalty; saga also L1 and elastic-net mixes."),
        Float("l1_ratio", default=0.5, search=(0.0, 1.0), minimum=0.0, maximum=1.0, task="classification",
              when={"solver": ("saga",)}, help="Share of L1 in the penalty (0: L2, 1: L1)."),
        Float("alpha", default=1.0, search=(1e-4, 10.0), minimum=1e-12, log=True, task="regression",
              help="Penalty strength."),
        Float("l1_ratio", default=0.5, search=(0.0, 1.0), minimum=0.0, maximum=1.0, task="regression",
              help="Share of L1 in the penalty (0: ridge, 1: lasso)."),
    ),
    fixed={"max_iter": 2000},
    work_bound="at most 2,000 solver iterations (lbfgs, saga, coordinate descent)",
    seed_param="random_state",
)
