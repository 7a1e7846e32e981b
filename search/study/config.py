"""What a study command was asked to do, checked once, when it is made; and what a study stores of it."""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from models import ModelSpec, SearchSpace
from search import defaults
from search.data import DataSpec
from search.errors import InputError
from search.evaluation import Scoring
from search.names import check_name, check_registered_name
from search.plugins import ALL_MODELS, models_named, names_all
from search.seeds import check_seed
from search.stores.optuna_storage import check_storage_url
from search.stores.urls import Store, resolve_storage, resolve_tracking

#: Settings a resumed study must share with its first run, or its trials would not compare.
SETTINGS_THAT_MUST_MATCH = ("models", "data", "task", "metric", "cv", "test_size", "split_seed")


class StudyError(InputError):
    """A study cannot be run as asked; the message says why in one line."""


@dataclass(frozen=True)
class StudyConfig:
    """One ``search study`` command (or one study of the CML job), validated when it is made.

    Args:
        models: Registered model names or aliases; several make one study.
        n_trials: Trials this command adds (``None`` with no timeout: `defaults.N_TRIALS`).
        timeout: The command's budget in seconds (see `search.study.limits.trials_budget`).
        trial_timeout: Seconds after which one trial is stopped and failed (see `search.study.limits`).
        study_name: Default: the models' names, plus the data's when not the default.
        storage: The Optuna storage (a URL, parsed into a `Store`).
        tracking: The MLflow tracking store (``None``: from the environment, else the embedded file).
        experiment: The MLflow experiment (default: the study's name).
        sampler, pruner, seed: How trials are drawn and stopped early.
        data, scoring: What each configuration is trained and scored on.
        n_jobs: Threads running trials in each worker process.
        workers: Worker processes sharing the study.
        log_model: Refit the best configuration and log it on the study's run.
        refit_all_rows: Fit that model on every row once its test score is measured (else: the training split).
        figures: Draw the study's figures (and ``trials.csv``) on its run at the end.
        register: Register that model as a version of this registered model (``champion`` if better).
    """

    models: tuple[str, ...]
    n_trials: int | None = None
    timeout: float | None = None
    trial_timeout: float | None = None
    study_name: str | None = None
    storage: Store = field(default_factory=resolve_storage)
    tracking: Store = field(default_factory=resolve_tracking)
    experiment: str | None = None
    sampler: defaults.Sampler = defaults.SAMPLER
    pruner: defaults.Pruner = defaults.PRUNER
    seed: int | None = None
    data: DataSpec = field(default_factory=DataSpec)
    scoring: Scoring = field(default_factory=Scoring)
    n_jobs: int = defaults.N_JOBS
    workers: int = defaults.WORKERS
    log_model: bool = defaults.LOG_MODEL
    refit_all_rows: bool = defaults.REFIT_ALL_ROWS
    figures: bool = defaults.FIGURES
    register: str | None = None
    space: SearchSpace = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # a frozen dataclass normalises its own fields once, here
        set_(self, "models", tuple(self.models))
        if names_all(self.models):
            set_(self, "models", (ALL_MODELS,))
        set_(self, "sampler", _choice(defaults.Sampler, self.sampler, "--sampler"))
        set_(self, "pruner", _choice(defaults.Pruner, self.pruner, "--pruner"))
        if not isinstance(self.storage, Store):
            set_(self, "storage", resolve_storage(self.storage))
        if not isinstance(self.tracking, Store):
            set_(self, "tracking", resolve_tracking(self.tracking))
        if self.n_trials is None and self.timeout is None:
            set_(self, "n_trials", defaults.N_TRIALS)
        self._check()
        set_(self, "space", SearchSpace(models_named(self.models)))
        check_name(self.name, "--study-name")
        if self.experiment is not None:
            check_name(self.experiment, "--experiment")

    def _check(self) -> None:
        for option, value in (("--n-trials", self.n_trials), ("--n-jobs", self.n_jobs), ("--workers", self.workers)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise StudyError(f"{option} must be a whole number, got {value!r}")
        for option, value in (("--timeout", self.timeout), ("--trial-timeout", self.trial_timeout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise StudyError(f"{option} must be a number of seconds, got {value!r}")
        if self.n_trials is not None and self.n_trials < 1:
            raise StudyError(f"--n-trials must be at least 1, got {self.n_trials}")
        if self.timeout is not None and not self.timeout > 0:  # NaN too
            raise StudyError(f"--timeout must be positive, got {self.timeout}")
        if self.trial_timeout is not None and not self.trial_timeout > 0:
            raise StudyError(f"--trial-timeout must be positive, got {self.trial_timeout}")
        if self.n_jobs < 1:
            raise StudyError(f"--n-jobs must be at least 1, got {self.n_jobs}")
        if self.workers < 1:
            raise StudyError(f"--workers must be at least 1, got {self.workers}")
        cores = os.cpu_count() or 1
        if self.workers > defaults.MAX_WORKERS_PER_CORE * cores:
            raise StudyError(
                f"--workers {self.workers} is more than this machine's {cores} cores can run "
                f"(at most {defaults.MAX_WORKERS_PER_CORE * cores}); for more, point commands on several machines at "
                "one --storage postgresql://… or redis://…"
            )
        if not self.models:
            raise StudyError("name at least one model to tune (see 'search models')")
        check_seed(self.seed)
        check_registered_name(self.register, log_model=self.log_model)
        check_storage_url(self.storage)

    @property
    def every_model(self) -> bool:
        """``search study all``: every registered model that fits the data's task."""
        return self.models == (ALL_MODELS,)

    @property
    def specs(self) -> list[ModelSpec]:
        """The models, each once, sorted by name."""
        return self.space.specs

    @property
    def name(self) -> str:
        """The study's name: given, or the models' names (plus the data's when not the default)."""
        if self.study_name is not None:
            return self.study_name
        name = ALL_MODELS if self.every_model else "-".join(spec.name for spec in self.specs)
        if self.data.source != defaults.DATA:
            name += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.data.source).stem)
        return name

    def settings(self) -> dict[str, Any]:
        """The study's settings as stored with it and logged on its MLflow run (no secrets)."""
        return {
            "models": ",".join(self.models if self.every_model else (spec.name for spec in self.specs)),
            "data": self.data.label,
            "task": self.data.task,
            "metric": self.scoring.metric,
            "cv": self.scoring.cv,
            "test_size": self.data.test_size,
            "split_seed": self.data.split_seed,
            "sampler": self.sampler.value,
            "pruner": self.pruner.value,
            "seed": self.seed,
            "storage": self.storage.masked,
            "experiment": self.experiment or self.name,
        }

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        *,
        name: str,
        storage: Store,
        tracking: Store,
        log_model: bool = True,
        register: str | None = None,
        figures: bool = True,
        refit_all_rows: bool = defaults.REFIT_ALL_ROWS,
    ) -> StudyConfig:
        """The config of a study from its stored `settings` (their inverse): what ``search sync`` repairs with."""
        if "models" not in settings:
            raise StudyError(f"study {name!r} was not made by 'search study' (it has no settings to log it with)")
        data = DataSpec.from_label(str(settings.get("data", defaults.DATA)),
                                   test_size=float(settings.get("test_size", defaults.TEST_SIZE)),
                                   split_seed=int(settings.get("split_seed", defaults.SPLIT_SEED)),
                                   task=settings.get("task") or defaults.Task.classification)
        metric = settings.get("metric", defaults.METRIC)
        scoring = Scoring(None if metric is None else str(metric), int(settings.get("cv", defaults.CV_FOLDS)))
        return cls(models=tuple(str(settings["models"]).split(",")), study_name=name, storage=storage,
                   tracking=tracking, experiment=str(settings.get("experiment") or name), data=data,
                   scoring=scoring, log_model=log_model, register=register, figures=figures,
                   refit_all_rows=refit_all_rows)


def _choice(kind: type[StrEnum], value: str, option: str) -> StrEnum:
    """``value`` as one of ``kind``'s choices, or a one-line `StudyError` naming them (the Python API passes text)."""
    try:
        return kind(value)
    except ValueError:
        raise StudyError(f"{option} must be one of {', '.join(kind)}, got {value!r}") from None


def mismatch(stored: Mapping[str, Any], config: StudyConfig) -> str | None:
    """Why a study stored with ``stored`` settings cannot take trials of ``config`` (None: it can). One message."""
    settings = config.settings()
    for key in SETTINGS_THAT_MUST_MATCH:
        if key in stored and str(stored[key]) != str(settings[key]):
            return (f"study {config.name!r} was run with {key}={stored[key]}, not {settings[key]}; "
                    "pass another --study-name to start a new study")
    return None
