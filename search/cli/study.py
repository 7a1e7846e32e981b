"""``search study``: tune one or more models with Optuna, every trial tracked in MLflow."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt


def study(
    models: Annotated[list[str], typer.Argument(help="Models to tune (see 'search models'); several make one study.")],
    n_trials: Annotated[
        int | None,
        typer.Option(
            "--n-trials", "-n",
            help=f"Trials this command adds (default {defaults.N_TRIALS} unless --timeout is given). "
            "A resumed study keeps its trials and gets N more; commands and workers running at once "
            "on one study each add their own N.",
        ),
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Start no trial after this many seconds.")] = None,
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Default: the models' names (plus the data's, if not synthetic).")
    ] = None,
    storage: opt.Storage = defaults.STORAGE,
    tracking_uri: opt.TrackingUri = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="MLflow experiment (default: the study's name).")
    ] = None,
    sampler: Annotated[defaults.Sampler, typer.Option("--sampler", case_sensitive=False)] = defaults.SAMPLER,
    pruner: Annotated[defaults.Pruner, typer.Option("--pruner", case_sensitive=False)] = defaults.PRUNER,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the sampler and the estimators (default: drawn, logged with each trial)."),
    ] = None,
    cv: opt.Folds = defaults.CV_FOLDS,
    metric: opt.Metric = defaults.METRIC,
    data: opt.Data = defaults.DATA,
    target: opt.Target = None,
    test_size: opt.TestSize = defaults.TEST_SIZE,
    split_seed: opt.SplitSeed = defaults.SPLIT_SEED,
    n_jobs: Annotated[int, typer.Option("--n-jobs", help="Trials run in parallel threads within each worker.")] = 1,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes sharing the study (use the cores; see README).")
    ] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress.")] = True,
    log_model: Annotated[
        bool,
        typer.Option("--log-model/--no-log-model", help="Refit the best configuration; log it on the study's run."),
    ] = True,
    register: opt.Register = None,
) -> None:
    """Run (or resume) a study, every trial logged to MLflow.

    Running the same command again resumes the study and adds --n-trials more.
    Ctrl-C stops it within seconds; every finished trial is kept and logged.
    """
    import optuna

    from search.data import DataSpec
    from search.evaluation import Scoring
    from search.report import ConsoleReporter
    from search.study import StudyConfig, run_study
    from search.study.interrupts import EXIT_CODE

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress and summary instead
    config = StudyConfig(
        models=tuple(models), n_trials=n_trials, timeout=timeout, study_name=study_name, storage=storage,
        tracking_uri=tracking_uri, experiment=experiment, sampler=sampler, pruner=pruner, seed=seed,
        data=DataSpec(data, target, test_size, split_seed), scoring=Scoring(metric, cv), n_jobs=n_jobs,
        workers=workers, log_model=log_model, register=register,
    )
    reporter = ConsoleReporter(bar=progress and sys.stderr.isatty(), quiet=not progress)
    outcome = run_study(config, reporter)
    if outcome.interrupted:
        logged = "and logged" if not outcome.unlogged else "(not all logged: see above)"
        print(f"search: interrupted; every finished trial is saved {logged}, the interrupted one recorded as such. "
              "Run the same command to resume.", file=sys.stderr)
        raise typer.Exit(EXIT_CODE)
