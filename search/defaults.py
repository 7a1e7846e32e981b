"""Every default and every list of choices of the toolkit, in one place.

Imported by the command line at start-up, so it imports nothing heavy.
"""

from __future__ import annotations

from enum import StrEnum

#: The original prototype's synthetic problem; see `search.data`.
DATA = "synthetic"
TEST_SIZE = 0.25
SPLIT_SEED = 123
METRIC = "accuracy"
CV_FOLDS = 5
#: Trials a study command adds when neither ``--n-trials`` nor ``--timeout`` is given.
N_TRIALS = 20

#: The embedded stores, in the working directory (the CML job anchors them at the project root).
STORAGE = "sqlite:///optuna.db"
TRACKING_URI = "sqlite:///mlflow.db"
UI_PORT = 5000


class Sampler(StrEnum):
    """Optuna samplers by the name ``--sampler`` takes; `search.study.samplers` builds them."""

    tpe = "tpe"
    random = "random"
    cmaes = "cmaes"
    gp = "gp"
    qmc = "qmc"


class Pruner(StrEnum):
    """Optuna pruners by the name ``--pruner`` takes; `search.study.samplers` builds them."""

    median = "median"
    hyperband = "hyperband"
    none = "none"


class OutputFormat(StrEnum):
    """How ``search best`` and ``search trials`` print."""

    table = "table"
    json = "json"
    csv = "csv"


SAMPLER = Sampler.tpe
PRUNER = Pruner.median
