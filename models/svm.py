"""Support vector machines: SVC for classes, SVR for quantities; the kernel decides what else applies."""

from models import Categorical, Float, Int, ModelSpec

#: libsvm's iterations per fit (scikit-learn's default, -1, is unlimited).
MAX_ITER = 100_000

MODEL = ModelSpec(
    name="svm",
    summary="support vector machine (SVC / SVR)",
    estimator="sklearn.svm:SVC",
    regressor="sklearn.svm:SVR",
    params=(
        Float("C", default=1.0, search=(1e-2, 1e3), minimum=1e-12, log=True, help="Inverse penalty strength."),
        Categorical("kernel", default="rbf", choices=("rbf", "linear", "poly"), help="Similarity of two rows."),
        Float("gamma", default=0.1, search=(1e-4, 10.0), minimum=1e-12, log=True, when={"kernel": ("rbf", "poly")},
              help="Reach of one row's influence."),
        Int("degree", default=3, search=(2, 5), minimum=1, when={"kernel": ("poly",)}, help="Polynomial degree."),
        Float("coef0", default=0.0, search=(0.0, 10.0), when={"kernel": ("poly",)}, help="Polynomial offset."),
        Float("epsilon", default=0.1, search=(1e-3, 1.0), minimum=0.0, log=True, task="regression",
              help="Errors within this margin cost nothing (in the target's units)."),
    ),
    # libsvm never stops on an ill-conditioned kernel (poly, large gamma and C): on 2.2k rows such a fit ran for
    # hours; with this bound it ends unconverged in about 2 s (1e6 iterations: 24 s), with a ConvergenceWarning.
    fixed={"max_iter": MAX_ITER},
    work_bound=f"at most {MAX_ITER:,} solver iterations (an unconverged fit says so in a warning)",
)
