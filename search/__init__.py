"""Hyperparameter search for scikit-learn models: Optuna studies tracked in MLflow.

The toolkit's parts, from the bottom up: `search.tracking` (the
`MLflowCallback`, a library of its own), `search.stores` (where studies and
runs are kept), `search.plugins` (which models exist), `search.data` (what
they are trained on), `search.evaluation` (how a configuration is scored),
`search.study` (Optuna studies), `search.deliverable` (the best model, its
registration, figures and predictions), and `search.cli` (the ``search``
command), and `search.tune` for notebooks. Models themselves are declared in
the `models` package.
"""

from search.notebook import TuneResult, tune

__all__ = ["TuneResult", "tune"]
__version__ = "0.1.0"
