"""Third-party models, declared with the toolkit's vocabulary: logistic regression, and an SVC with conditional
parameters (``gamma`` only for the rbf and poly kernels, ``degree`` only for poly)."""

from sklearn.base import BaseEstimator, ClassifierMixin

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


class EndlessSVC(ClassifierMixin, BaseEstimator):
    """A third-party estimator whose fit never ends in compiled code: libsvm on an ill-conditioned poly kernel.

    Whatever it is given, it fits scikit-learn's SVC (unbounded ``max_iter``) on a fixed table where libsvm
    runs for many minutes without returning to Python (found on a real survey table: issue #22), so a
    signal handler cannot run in its process and only killing it stops it.
    """

    def __init__(self, C: float = 971.9) -> None:
        self.C = C

    def fit(self, X, y):
        from sklearn.svm import SVC

        features, labels = hard_table()
        SVC(kernel="poly", C=self.C, gamma=9.82, degree=2, coef0=1.93, max_iter=-1).fit(features, labels)
        return self

    def predict(self, X):
        raise NotImplementedError("never fitted")


def hard_table(rows: int = 1800, seed: int = 1):
    """Survey-like rows (scaled numbers, one-hot categories) with a noisy 4-class target."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = round(rows * 1.5)
    region = rng.choice(["C", "M", "N", "S", "SA"], n, p=[0.2, 0.04, 0.12, 0.26, 0.38])
    population = rng.choice([3750, 7500, 15000, 30000, 50000, 175000, 250000], n)
    sex = rng.choice(["F", "M"], n)
    age = rng.integers(18, 71, n).astype(float)
    education = rng.choice(["P", "PS", "S"], n)
    income = rng.choice([2500, 7500, 15000, 35000, 75000, 125000, 200000], n).astype(float)
    status_quo = rng.normal(0, 1, n)
    scores = np.stack([1.5 * status_quo, -1.5 * status_quo, 0.03 * (age - 40), 0 * status_quo], 1)
    vote = np.array(list("YNUA"))[(scores + rng.normal(0, 1, (n, 4))).argmax(1)]
    numbers = np.column_stack([population, age, income, status_quo])
    numbers = (numbers - numbers.mean(0)) / numbers.std(0)
    categories = [(column == value).astype(float) for column, values in
                  ((region, "C M N S SA"), (sex, "F M"), (education, "P PS S")) for value in values.split()]
    return np.column_stack([numbers, *categories])[:rows], vote[:rows]


#: A plugin whose every fit runs in compiled code for minutes (see `EndlessSVC`).
ENDLESS = ModelSpec(
    name="endless-svm",
    summary="an SVC that never ends its fit (a test plugin)",
    estimator="tiny_plugin:EndlessSVC",
    params=(Float("C", default=971.9, search=(500.0, 1000.0), minimum=1e-12, help="Inverse regularisation."),),
)
