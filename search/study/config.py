"""What a study command was asked to do, checked once, when it is made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models import ModelSpec, SearchSpace
from search import defaults
from search.best_model import check_registered_name
from search.data import DataSpec
from search.errors import InputError
from search.evaluation import Scoring
from search.registry import get_model
from search.seeds import check_seed
from search.stores.optuna import check_storage_url
from search.stores.urls import mask, resolve_storage

#: Longest study or experiment name: the study's parent run is named after it, and MLflow keeps 250 characters.
MAX_NAME_LENGTH = 250
#: Settings a resumed study must share with its first run, or its trials would not compare.
SETTINGS_THAT_MUST_MATCH = ("models", "data", "metric", "cv", "test_size", "split_seed")


class StudyError(InputError):
    """A study cannot be run as asked; the message says why in one line."""


@dataclass(frozen=True)
class StudyConfig:
    """One ``search study`` command (or one study of the CML job), validated when it is made.

    Args:
        models: Registered model names or aliases; several make one study.
        n_trials: Trials this command adds (``None`` with no timeout: `defaults.N_TRIALS`).
        timeout: Seconds after which no new trial starts.
        study_name: Default: the models' names, plus the data's when not the default.
        storage: The Optuna storage URL.
        tracking_uri: The MLflow tracking URI (``None``: resolved from the environment).
        experiment: The MLflow experiment (default: the study's name).
        sampler, pruner, seed: How trials are drawn and stopped early.
        data, scoring: What each configuration is trained and scored on.
        n_jobs: Threads running trials in each worker process.
        workers: Worker processes sharing the study.
        log_model: Refit the best configuration and log it on the study's run.
        register: Register that model as a version of this registered model (``champion`` if better).
    """

    models: tuple[str, ...]
    n_trials: int | None = None
    timeout: float | None = None
    study_name: str | None = None
    storage: str = defaults.STORAGE
    tracking_uri: str | None = None
    experiment: str | None = None
    sampler: defaults.Sampler = defaults.SAMPLER
    pruner: defaults.Pruner = defaults.PRUNER
    seed: int | None = None
    data: DataSpec = field(default_factory=DataSpec)
    scoring: Scoring = field(default_factory=Scoring)
    n_jobs: int = 1
    workers: int = 1
    log_model: bool = True
    register: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # a frozen dataclass normalises its own fields once, here
        set_(self, "models", tuple(self.models))
        set_(self, "sampler", defaults.Sampler(self.sampler))
        set_(self, "pruner", defaults.Pruner(self.pruner))
        set_(self, "storage", resolve_storage(self.storage))
        if self.n_trials is None and self.timeout is None:
            set_(self, "n_trials", defaults.N_TRIALS)
        if self.n_trials is not None and self.n_trials < 1:
            raise StudyError(f"--n-trials must be at least 1, got {self.n_trials}")
        if self.timeout is not None and not self.timeout > 0:  # NaN too
            raise StudyError(f"--timeout must be positive, got {self.timeout}")
        if self.workers < 1:
            raise StudyError(f"--workers must be at least 1, got {self.workers}")
        if self.n_jobs < 1:
            raise StudyError(f"--n-jobs must be at least 1, got {self.n_jobs}")
        if not self.models:
            raise StudyError("name at least one model to tune (see 'search models')")
        check_seed(self.seed)
        check_registered_name(self.register, self.log_model)
        check_storage_url(self.storage)
        set_(self, "space", SearchSpace([get_model(name) for name in self.models]))
        for option, name in (("--study-name", self.name), ("--experiment", self.experiment or "")):
            if len(name) > MAX_NAME_LENGTH:
                raise StudyError(f"{option} is {len(name)} characters long; MLflow keeps at most {MAX_NAME_LENGTH}")
            if not name.strip() and (option == "--study-name" or self.experiment is not None):
                raise StudyError(f"{option} must not be blank")

    space: SearchSpace = field(init=False, repr=False, compare=False)

    @property
    def specs(self) -> list[ModelSpec]:
        """The models, each once, sorted by name."""
        return self.space.specs

    @property
    def name(self) -> str:
        """The study's name: given, or the models' names (plus the data's when not the default)."""
        if self.study_name:
            return self.study_name
        name = "-".join(spec.name for spec in self.specs)
        if self.data.source != defaults.DATA:
            name += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.data.source).stem)
        return name

    def settings(self) -> dict[str, Any]:
        """The study's settings as stored with it and logged on its MLflow run (no secrets)."""
        return {
            "models": ",".join(spec.name for spec in self.specs),
            "data": self.data.label,
            "metric": self.scoring.metric,
            "cv": self.scoring.cv,
            "test_size": self.data.test_size,
            "split_seed": self.data.split_seed,
            "sampler": self.sampler.value,
            "pruner": self.pruner.value,
            "seed": self.seed,
            "storage": mask(self.storage),
            "experiment": self.experiment or self.name,
        }
