"""The project's stores and the config of each study the job runs: the project's settings, as the toolkit takes them.

Every relative store is anchored at the project root, never the working
directory, so the study jobs, their CML workers, the MLflow UI application and
the model all open the same files. CML's own ``MLFLOW_TRACKING_URI`` is never
read: ``SEARCH_TRACKING_URI``, blank meaning the project's embedded store.
"""

from __future__ import annotations

from pathlib import Path

import project
from search import defaults
from search.stores.urls import Store
from search.study import StudyConfig


def tracking(root: Path) -> Store:
    """``SEARCH_TRACKING_URI``, else the embedded ``sqlite:///<root>/mlflow.db``."""
    return Store.parse(project.env("SEARCH_TRACKING_URI") or defaults.TRACKING_URI, root)


def storage(root: Path, workers: int = 1) -> Store:
    """``SEARCH_STORAGE``; blank: ``sqlite:///<root>/optuna.db``, or ``<root>/optuna.journal`` for several workers.

    Several CML workers on other hosts write the storage at once: SQLite's
    locking is not safe on the project's NFS, Optuna's journal file is (and
    PostgreSQL and Redis are servers).
    """
    blank = defaults.SHARED_STORAGE_FILE if workers > 1 else defaults.STORAGE
    return Store.parse(project.env("SEARCH_STORAGE") or blank, root)


def study_config(
    models: list[str] | tuple[str, ...],
    root: Path,
    n_trials: int | None,
    timeout: float | None,
    seed: int | None = None,
    workers: int = 1,
) -> StudyConfig:
    """The config of one study of the job (and of its CML workers): the project's settings."""
    return StudyConfig(models=tuple(models), n_trials=n_trials, timeout=timeout,
                       trial_timeout=project.trial_timeout(), seed=seed,
                       storage=storage(root, workers), tracking=tracking(root), register=project.register())
