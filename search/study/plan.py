"""A study command's plan: inputs checked, stores inspected, then the study opened. Nothing is written before.

1. `plan_study`: the data is loaded and everything that needs no store is
   checked (data, metric, folds, seed). The stores themselves are checked
   before, without writing (`search.stores.checks`), by the command.
2. `inspect_stores`: an existing study is read: a resume must have the
   settings the study was made with (`search.study.config.mismatch`).
3. `open_study`: the study is created (or loaded to resume), with its settings
   and this command's *stretch* (sampler, pruner, seed, workers) as user attrs.
   Its sampler starts from each model's starting point (`ModelSpec.start`, see
   `search.study.families`): the untuned models a data scientist fits first.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models import DataShape, ParamError, SearchSpace
from search.errors import InputError
from search.evaluation import smallest_fold
from search.seeds import offset, seed_or_drawn
from search.stores.optuna_storage import StorageError, holds_studies, open_storage
from search.study.config import StudyConfig, StudyError, mismatch
from search.study.samplers import make_pruner, make_sampler
from search.study.workers import worker_id
from search.text import one_line
from search.trials import SETTINGS_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna

    from search.data import Dataset
    from search.stores.urls import Store

#: Study user attributes starting with this record each command's sampler, pruner, seed and how it ended.
STRETCH_ATTRIBUTE_PREFIX = "stretch "


@dataclass
class StudyPlan:
    """A study about to run: the checked config and what was derived from it."""

    config: StudyConfig
    data: Dataset
    seed: int
    #: The models as they are tuned on these data: the task's estimators, ranges fitted to the data.
    space: SearchSpace
    started: str = field(default_factory=lambda: datetime.datetime.now().isoformat(timespec="milliseconds"))
    trials_before: int = 0
    #: The study exists with other settings but no trial: it is made again with these.
    recreate: bool = False
    #: Earlier commands' stretches (see `stretches_of`), oldest first.
    stretches: list[dict[str, Any]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What was fitted to the data: columns and rows left out, search ranges narrowed."""
        declared = {spec.name: spec for spec in self.config.specs}
        narrowed = [f"{spec.name} searches {', '.join(changes)} to fit the data"
                    for spec in self.space.specs
                    if (changes := spec.narrowed(declared[spec.name].for_task(self.data.task)))]
        return [*self.data.notes, *narrowed]

    @property
    def experiment(self) -> str:
        return self.config.experiment or self.config.name

    @property
    def tracking(self) -> Store:
        return self.config.tracking

    @property
    def stretch_key(self) -> str:
        """This command's stretch attribute (one per command: its start and its process)."""
        return f"{STRETCH_ATTRIBUTE_PREFIX}{self.started} {worker_id()}"

    def stretch(self) -> dict[str, Any]:
        """This command's stretch of trials: how they are drawn and stopped."""
        config = self.config
        return {"first_trial": self.trials_before, "sampler": config.sampler.value, "pruner": config.pruner.value,
                "seed": self.seed, "workers": config.workers, "log_model": config.log_model,
                "refit_all_rows": config.refit_all_rows,
                "register": config.register, "figures": config.figures, "started": self.started,
                "tracking": config.tracking.masked}


def plan_study(config: StudyConfig) -> StudyPlan:
    """Load the data and check what needs no store, so a bad input creates nothing.

    The plan's config names what the data decided: the task and its metric.
    """
    data = config.data.load()
    config = resolved(config, data)
    config.scoring.check(data)
    return StudyPlan(config, data, seed_or_drawn(config.seed), fitted_space(config, data))


def resolved(config: StudyConfig, data: Dataset) -> StudyConfig:
    """``config`` with the task and metric ``data`` call for where the command left them open."""
    return dataclasses.replace(config, data=dataclasses.replace(config.data, task=data.task),
                               scoring=config.scoring.for_task(data.task))


def fitted_space(config: StudyConfig, data: Dataset) -> SearchSpace:
    """The study's models for ``data``'s task, their data-dependent ranges fitted to it."""
    shape = DataShape(fold_rows=smallest_fold(data, config.scoring), features=len(data.feature_names))
    specs = config.specs
    if config.every_model:
        specs = [spec for spec in specs if data.task in spec.tasks]
    try:
        return SearchSpace([spec.for_task(data.task, shape) for spec in specs])
    except ParamError as error:
        raise InputError(f"{error}; {data.source} is a {data.task} problem") from None


def inspect_stores(plan: StudyPlan) -> None:
    """Check a resumed study's settings against this command's, without writing to the storage."""
    import optuna

    config = plan.config
    if not holds_studies(config.storage):
        return  # a new storage: no study to resume
    try:
        study = optuna.load_study(study_name=config.name, storage=open_storage(config.storage, read_only=True),
                                  sampler=optuna.samplers.RandomSampler())
    except KeyError:
        return
    except StorageError:
        raise
    except Exception as error:
        raise StorageError(f"cannot read Optuna storage {config.storage}: {one_line(error)}") from None
    trials = study.get_trials(deepcopy=False)
    problem = mismatch(study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, config)
    if problem and trials:
        raise StudyError(problem)
    plan.recreate = bool(problem)
    plan.trials_before = len(trials)
    plan.stretches = stretches_of(study)


def stretches_of(study: optuna.study.Study) -> list[dict[str, Any]]:
    """Every command's stretch of trials, oldest first."""
    attrs = study.user_attrs
    return [attrs[key] for key in sorted(attrs) if key.startswith(STRETCH_ATTRIBUTE_PREFIX)]


def open_study(plan: StudyPlan, storage: optuna.storages.BaseStorage, slot: int = 0) -> optuna.study.Study:
    """Create the study (again, if ``plan.recreate``), or load it to resume; worker ``slot`` draws its own seed."""
    import optuna

    config = plan.config
    if plan.recreate and slot == 0:
        optuna.delete_study(study_name=config.name, storage=storage)
    study = optuna.create_study(
        study_name=config.name,
        storage=storage,
        # Each worker its own draws; each starts from the models' starting points no trial has tried.
        sampler=make_sampler(config.sampler, offset(plan.seed, slot), starting_points(plan.space)),
        pruner=make_pruner(config.pruner, config.scoring.cv),
        direction=config.scoring.direction,
        load_if_exists=True,
    )
    if slot == 0:
        problem = mismatch(study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, config)
        if problem:  # another command made it a moment ago, with other settings
            raise StudyError(problem)
        study.set_user_attr(SETTINGS_ATTRIBUTE_KEY, config.settings())
        study.set_user_attr(plan.stretch_key, plan.stretch())
    return study


def starting_points(space: SearchSpace) -> list[dict[str, Any]]:
    """Each model's starting point, as trial params: where a study starts."""
    return [space.encode(spec, spec.start()) for spec in space.specs]


def join_study(plan: StudyPlan, storage: optuna.storages.BaseStorage, slot: int) -> optuna.study.Study:
    """The study a job made, loaded by its worker ``slot`` (which draws from the plan's seed offset by its slot)."""
    import optuna

    config = plan.config
    try:
        study = optuna.load_study(
            study_name=config.name, storage=storage,
            sampler=make_sampler(config.sampler, offset(plan.seed, slot), starting_points(plan.space)),
            pruner=make_pruner(config.pruner, config.scoring.cv),
        )
    except KeyError:
        raise StudyError(f"no study {config.name!r} in {config.storage}: "
                         "the study job makes it before it starts its workers") from None
    problem = mismatch(study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, config)
    if problem:
        raise StudyError(problem)
    return study

