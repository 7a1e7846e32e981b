"""Hyperparameter search for scikit-learn models: Optuna studies tracked in MLflow.

The toolkit's parts, from the bottom up: `search.tracking` (the
`MLflowCallback`, a library of its own), `search.stores` (where studies and
runs are kept), `search.plugins` (which models exist), `search.data` (what
they are trained on), `search.evaluation` (how a configuration is scored),
`search.study` (Optuna studies), `search.deliverable` (the best model, its
registration, figures and predictions), and `search.cli` (the ``search``
command), and `search.tune` for notebooks. Models themselves are declared in
the `models` package.

``import search`` loads none of them: its names (`tune`, `TuneResult`, the
errors a call can raise, `ModelSpec` for a model of one's own) are imported
when first used (PEP 562), so ``import search.tracking`` and ``search --help``
pay only for what they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models import ModelSpec
    from search.errors import DataError, InputError, SearchError
    from search.notebook import TuneResult, tune
    from search.stores.server import TrackingError

#: Where each public name lives: imported when first used (PEP 562).
_HOMES = {
    "tune": "search.notebook",
    "TuneResult": "search.notebook",
    "SearchError": "search.errors",
    "InputError": "search.errors",
    "DataError": "search.errors",
    "TrackingError": "search.stores.server",
    "ModelSpec": "models",
}

__all__ = ["DataError", "InputError", "ModelSpec", "SearchError", "TrackingError", "TuneResult", "tune"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:  # every name of __all__ (a test checks)
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("cml-hyperparameter-search")
        except PackageNotFoundError:  # run from a source tree that is not installed
            return "0+unknown"
    raise AttributeError(f"module 'search' has no attribute {name!r}")
