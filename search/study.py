"""Running an Optuna study over one or more registered models, tracked in MLflow.

This is the one implementation behind ``search study`` and the CML study job.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import ModelSpec
from search.errors import InputError, SearchError
from search import tracking_store
from search.data import DEFAULT_DATA
from search.registry import get_model
from search.urls import DEFAULT_STORAGE, mask, resolve_tracking_uri

if TYPE_CHECKING:
    import optuna

    from search.data import Dataset

SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc")
PRUNERS = ("median", "hyperband", "none")
#: Settings a resumed study must share with its first run, or its trials would not compare.
SETTINGS_THAT_MUST_MATCH = ("models", "data", "metric", "cv", "test_size", "split_seed")


class StudyError(InputError):
    """A study cannot be run as asked; the message says why in one line."""


@dataclass
class StudyConfig:
    """What ``search study`` was asked to do; the defaults are the CLI's."""

    models: list[str]
    n_trials: int | None = None
    timeout: float | None = None
    study_name: str | None = None
    storage: str = DEFAULT_STORAGE
    tracking_uri: str | None = None
    experiment: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = None
    cv: int = 5
    metric: str = "accuracy"
    data: str = DEFAULT_DATA
    target: str | None = None
    test_size: float = 0.25
    split_seed: int = 123
    n_jobs: int = 1
    workers: int = 1
    show_progress_bar: bool = False
    #: One line per finished trial instead of a bar, for logs (a CML job's, a pipe).
    progress_lines: bool = False

    def specs(self) -> list[ModelSpec]:
        specs = [get_model(name) for name in self.models]
        return list({spec.name: spec for spec in specs}.values())

    def resolved_study_name(self) -> str:
        if self.study_name:
            return self.study_name
        name = "-".join(spec.name for spec in self.specs())
        if self.data != DEFAULT_DATA:
            name += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.data).stem)
        return name

    def settings(self) -> dict[str, Any]:
        """The study's settings as stored with it and logged on its MLflow run (no secrets)."""
        return {
            "models": ",".join(spec.name for spec in self.specs()),
            "data": self.data if self.target is None else f"{self.data} (target={self.target})",
            "metric": self.metric,
            "cv": self.cv,
            "test_size": self.test_size,
            "split_seed": self.split_seed,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "seed": self.seed,
            "storage": mask(self.storage),
        }

    def validate(self) -> None:
        from search.evaluation import check_metric
        from search.storage import check_storage_url

        if self.n_trials is not None and self.n_trials < 1:
            raise StudyError(f"--n-trials must be at least 1, got {self.n_trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise StudyError(f"--timeout must be positive, got {self.timeout}")
        if self.cv < 2:
            raise StudyError(f"--cv must be at least 2 folds, got {self.cv}")
        if self.workers < 1:
            raise StudyError(f"--workers must be at least 1, got {self.workers}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise StudyError(f"--n-jobs must be a positive number of threads or -1, got {self.n_jobs}")
        if self.sampler not in SAMPLERS:
            raise StudyError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise StudyError(f"unknown pruner {self.pruner!r}; choose from {', '.join(PRUNERS)}")
        check_metric(self.metric)
        check_storage_url(self.storage)
        self.specs()


@dataclass
class StudyOutcome:
    """What a finished (or interrupted) study did, for the summary."""

    study: optuna.study.Study
    trials_before: int
    experiment_id: str
    study_run_id: str
    tracking_uri: str
    unlogged_trials: list[int] = field(default_factory=list)
    failed_workers: int = 0

    @property
    def trials_added(self) -> int:
        return len(self.study.trials) - self.trials_before


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "tpe":
        # multivariate+group model the conditional space (model → its own params) jointly.
        with warnings.catch_warnings():  # multivariate and group are "experimental" but long stable
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise StudyError("the gp sampler needs PyTorch: pip install torch") from None
        return optuna.samplers.GPSampler(seed=seed)
    raise StudyError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")


def make_pruner(name: str, cv: int) -> optuna.pruners.BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=cv)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise StudyError(f"unknown pruner {name!r}; choose from {', '.join(PRUNERS)}")


def param_prefix(spec: ModelSpec, specs: list[ModelSpec]) -> str:
    """Trial param names are plain for one model, ``model__param`` when several share a study."""
    return "" if len(specs) == 1 else f"{spec.name}__"


def chosen_model(trial_params: dict[str, Any], specs: list[ModelSpec]) -> tuple[ModelSpec, dict[str, Any]]:
    """The model and estimator params a trial stands for."""
    spec = specs[0] if len(specs) == 1 else get_model(trial_params["model"])
    return spec, spec.from_trial(trial_params, param_prefix(spec, specs))


def make_objective(specs: list[ModelSpec], data: Dataset, metric: str, cv: int, seed: int | None):
    """The objective: mean cross-validated ``metric`` on the training split, reported fold by fold."""
    import optuna

    from search.evaluation import evaluate
    from search.tracking import METRICS_ATTRIBUTE_KEY, record_failures

    by_name = {spec.name: spec for spec in specs}

    @record_failures
    def objective(trial: optuna.trial.Trial) -> float:
        spec = specs[0] if len(specs) == 1 else by_name[trial.suggest_categorical("model", list(by_name))]
        params = spec.suggest(trial, param_prefix(spec, specs))

        def report(step: int, running_mean: float) -> None:
            trial.report(running_mean, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = evaluate(spec.build(params, seed), data, metric, cv, on_fold=report)
        trial.set_user_attr(METRICS_ATTRIBUTE_KEY, result.metrics)
        return result.cv_score

    return objective


def open_study(config: StudyConfig) -> optuna.study.Study:
    """Create the study, or load it to resume after checking it was run with the same settings."""
    import optuna

    from search.storage import open_storage

    storage = open_storage(config.storage)
    name = config.resolved_study_name()
    sampler = make_sampler(config.sampler, config.seed)
    pruner = make_pruner(config.pruner, config.cv)
    study = optuna.create_study(
        study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction="maximize", load_if_exists=True
    )
    settings = config.settings()
    stored = study.user_attrs.get("settings")
    if stored is None:
        study.set_user_attr("settings", settings)
    else:
        for key in SETTINGS_THAT_MUST_MATCH:
            if str(stored.get(key)) != str(settings[key]):
                raise StudyError(
                    f"study {name!r} was run with {key}={stored.get(key)}, not {settings[key]}; "
                    "pass another --study-name to start a new study"
                )
    return study


def run_study(config: StudyConfig) -> StudyOutcome:
    """Run (or resume) the study ``config`` describes; interrupted or not, every finished trial is logged.

    With ``workers > 1``, this process is one worker and starts the others; the
    stores and the study's MLflow run are created once, before they start.
    """
    config.validate()
    tracking_uri = resolve_tracking_uri(config.tracking_uri)
    tracking_store.prepare_tracking_store(tracking_uri)
    study = open_study(config)
    trials_before = len(study.get_trials(deepcopy=False))
    total = trials_before + config.n_trials if config.n_trials is not None else None
    pool = WorkerPool(config, total) if config.workers > 1 else None
    outcome = _work(config, study, tracking_uri, total, trials_before, pool=pool)
    if outcome.failed_workers:
        raise SearchError(
            f"{outcome.failed_workers} of {config.workers - 1} other worker processes failed; "
            "every finished trial is saved"
        )
    return outcome


def _work(
    config: StudyConfig,
    study: optuna.study.Study,
    tracking_uri: str,
    total: int | None,
    trials_before: int,
    pool: WorkerPool | None = None,
    leader: bool = True,
) -> StudyOutcome:
    """One worker: optimise until the study has ``total`` trials (or the timeout), logging every trial.

    The leader (the process the user started) releases the other workers once
    the study run exists, waits for them, and then ends the study run.
    """
    import optuna
    from threadpoolctl import threadpool_limits

    from search.data import load_dataset
    from search.tracking import MLflowCallback

    alone = config.workers == 1
    callback = MLflowCallback(
        tracking_uri=tracking_uri,
        metric_name=f"cv_{config.metric}",
        create_experiment=config.experiment is None,
        mlflow_kwargs={"experiment_id": tracking_store.experiment_id(tracking_uri, config.experiment)}
        if config.experiment
        else None,
        tag_trial_user_attrs=False,
        study_run=True,
        study_run_params=config.settings(),
        # One process: write from background processes, started now so their start-up overlaps ours.
        # Several workers: each writes itself; the cores are busy with trials.
        background=alone,
    )
    status = "KILLED"
    outcome = StudyOutcome(study, trials_before, "", "", tracking_uri)
    try:
        outcome.experiment_id = callback.experiment_id(study)
        outcome.study_run_id = callback.study_run_id(study)
        if pool is not None:
            pool.release()  # the study run exists: the other workers may start
        data = load_dataset(config.data, config.target, config.test_size, config.split_seed)
        objective = make_objective(config.specs(), data, config.metric, config.cv, config.seed)
        callbacks: list[Any] = [callback]
        if config.progress_lines and leader:
            callbacks.append(_print_trial(config.metric, total))
        if alone:  # Optuna counts this process's trials
            limits = {"n_trials": config.n_trials, "callbacks": callbacks}
        else:  # every worker stops once the study holds ``total`` trials
            if total is not None:
                callbacks.append(optuna.study.MaxTrialsCallback(total, states=None))
            limits = {"n_trials": None, "callbacks": callbacks}
        # Trials are the unit of parallelism: one BLAS/OpenMP thread each. Under load, OpenMP's
        # spinning threads made a kNN fit 10-20x slower here.
        if total is None or len(study.trials) < total:
            with threadpool_limits(limits=1):
                study.optimize(
                    objective,
                    timeout=config.timeout,
                    n_jobs=config.n_jobs,
                    catch=(ValueError,),
                    show_progress_bar=config.show_progress_bar and leader,
                    gc_after_trial=False,
                    **limits,
                )
        status = "FINISHED"
    finally:
        outcome.unlogged_trials = callback.flush()
        if pool is not None:
            outcome.failed_workers = pool.join()
        if leader:
            callback.end_study_run(study, status)
        callback.close()
    return outcome


def _print_trial(metric: str, total: int | None):
    """A callback printing one line per finished trial: progress a log can show."""

    def report(study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = f"cv_{metric} = {trial.value:.4f}" if trial.value is not None else ""
        try:
            best = f", best {study.best_value:.4f}"
        except ValueError:
            best = ""
        of = f"/{total}" if total is not None else ""
        print(f"trial {trial.number + 1}{of} {trial.state.name.lower()} {value}{best}".rstrip(), flush=True)

    return report


class WorkerPool:
    """The other worker processes of a study: started now, released once the study run exists."""

    def __init__(self, config: StudyConfig, total: int | None) -> None:
        import multiprocessing
        import threading

        # fork shares the loaded libraries (no second 3 s of imports); only safe while single-threaded.
        method = "fork" if threading.active_count() == 1 else "spawn"
        context = multiprocessing.get_context(method)
        self._ready = context.Event()
        self._processes = [
            context.Process(
                target=_worker_main,
                # A seeded sampler in every worker would draw the same configurations: offset the seed.
                args=(replace(config, show_progress_bar=False, seed=None if config.seed is None else config.seed + i),
                      total, self._ready),
                name=f"search-worker-{i}",
            )
            for i in range(1, config.workers)
        ]
        for process in self._processes:
            process.start()

    def release(self) -> None:
        self._ready.set()

    def join(self) -> int:
        """Wait for every worker; how many failed."""
        self._ready.set()  # if this process failed before releasing them, they find the study and stop
        for process in self._processes:
            process.join()
        return sum(1 for process in self._processes if process.exitcode != 0)


def _worker_main(config: StudyConfig, total: int | None, ready: Any) -> None:
    """Entry point of a worker process started by `WorkerPool`."""
    import os

    ready.wait()
    try:
        study = open_study(config)
        _work(config, study, resolve_tracking_uri(config.tracking_uri), total, len(study.trials), leader=False)
    except KeyboardInterrupt:
        os._exit(130)
    except BaseException as error:  # reported by the parent as a count; say which here
        print(f"search: worker {os.getpid()}: {type(error).__name__}: {error}", flush=True)
        os._exit(1)
