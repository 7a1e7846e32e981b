"""Every default and every list of choices of the toolkit, in one place.

Imported by the command line at start-up, so it imports nothing heavy.
"""

from __future__ import annotations

from enum import StrEnum

#: The original prototype's synthetic problem; see `search.data`.
DATA = "synthetic"
TEST_SIZE = 0.25
SPLIT_SEED = 123
#: The metric of each task unless ``--metric`` names another (RMSE is logged as ``rmse``, lower is better).
METRIC = "accuracy"
REGRESSION_METRIC = "rmse"
CV_FOLDS = 5
#: Trials a study command adds when neither ``--n-trials`` nor ``--timeout`` is given.
N_TRIALS = 20
#: Seconds one trial may run when neither ``--trial-timeout`` nor ``--timeout`` says (see `search.study.limits`).
TRIAL_TIMEOUT = 600.0
#: Seconds a trial may run past the end of ``--timeout`` before it is stopped.
TRIAL_GRACE = 5.0
#: Threads running trials in each worker process, and worker processes per command.
N_JOBS = 1
WORKERS = 1
#: Worker processes per core above which a command is refused: they would only wait for each other.
MAX_WORKERS_PER_CORE = 4
#: The study's best model is refitted and logged, and its figures drawn, unless asked not to.
LOG_MODEL = True
#: The delivered model is fitted again on every row (training and test) once its test score is measured.
REFIT_ALL_ROWS = True
FIGURES = True

#: The embedded stores: files in the working directory (the CML job anchors them at the project root).
STORAGE_FILE = "optuna.db"
TRACKING_FILE = "mlflow.db"
#: Where several CML workers keep a study: Optuna's journal file (SQLite is not safe on the project's NFS).
SHARED_STORAGE_FILE = "optuna.journal"
STORAGE = f"sqlite:///{STORAGE_FILE}"
TRACKING_URI = f"sqlite:///{TRACKING_FILE}"
UI_PORT = 5000


class Task(StrEnum):
    """What a study predicts, by the name ``--task`` takes; `search.tasks` infers it from the target."""

    classification = "classification"
    regression = "regression"


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
