"""Third-party models, declared with the toolkit's vocabulary: logistic regression, and an SVC with conditional
parameters (``gamma`` only for the rbf and poly kernels, ``degree`` only for poly)."""

from models import Categorical, Float, Int, ModelSpec

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

SVC = ModelSpec(
    name="svc",
    summary="support vector classifier (a plugin with conditional parameters)",
    estimator="sklearn.svm:SVC",
    params=(
        Float("C", default=1.0, search=(1e-2, 1e2), minimum=1e-12, log=True, help="Inverse regularisation."),
        Categorical("kernel", default="rbf", choices=("linear", "rbf", "poly"), help="Kernel."),
        Float("gamma", default=0.05, search=(1e-3, 1.0), minimum=1e-12, log=True, when={"kernel": ("rbf", "poly")},
              help="Kernel coefficient."),
        Int("degree", default=3, search=(2, 4), minimum=1, when={"kernel": ("poly",)}, help="Polynomial degree."),
    ),
    seed_param="random_state",
)

#: A plugin with a mistake its author could make: an estimator argument scikit-learn refuses at fit time,
#: so every configuration fails. The toolkit must say so, not report success.
BROKEN = ModelSpec(
    name="broken-knn",
    summary="k-nearest neighbours with a metric scikit-learn does not know (a faulty plugin)",
    estimator="sklearn.neighbors:KNeighborsClassifier",
    params=(Int("n_neighbors", default=5, search=(1, 10), minimum=1),),
    fixed={"metric": "no-such-metric"},
)
