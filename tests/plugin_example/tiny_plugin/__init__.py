"""A third-party model: logistic regression, declared with the toolkit's vocabulary."""

from models import Categorical, Float, ModelSpec

MODEL = ModelSpec(
    name="logistic",
    aliases=("logreg",),
    summary="logistic regression (a plugin)",
    estimator="sklearn.linear_model:LogisticRegression",
    params=(
        Float("C", default=1.0, search=(1e-3, 1e3), minimum=1e-12, log=True, help="Inverse regularisation."),
        Categorical("fit_intercept", default=True, choices=(True, False), help="Learn an intercept."),
    ),
    fixed={"max_iter": 500},
)
