"""Hyperparameter search for scikit-learn models: Optuna studies tracked in MLflow.

The toolkit's parts: `search.registry` (which models exist), `search.data`
(what they are trained on), `search.evaluation` (how a configuration is
scored), `search.study` (Optuna studies), `search.tracking` (the
`MLflowCallback`) and `search.cli` (the ``search`` command).
"""

__version__ = "0.1.0"
