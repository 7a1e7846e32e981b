"""``search study``: tune one or more models with Optuna, every trial tracked in MLflow."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt
from search.data import DataSpec
from search.evaluation import Scoring
from search.interrupts import EXIT_CODE
from search.report import ConsoleReporter, interrupted_line
from search.study import StudyConfig, run_study


def study(
    models: Annotated[
        list[str],
        typer.Argument(metavar="MODEL", show_default=False,
                       help="Models to tune (see 'search models'); several make one study, and 'all' one of "
                       "every model that fits the task."),
    ],
    *,
    n_trials: Annotated[
        int | None,
        typer.Option(
            "--n-trials", "-n",
            help=f"Trials this command adds (default {defaults.N_TRIALS} unless --timeout is given). "
            "A resumed study keeps its trials and gets N more; commands and workers running at once "
            "on one study each add their own N.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="The command's budget in seconds: trials start while the write-up's share "
                     "(a fifth, at most 5 s) is left, so it ends about then."),
    ] = None,
    trial_timeout: Annotated[
        float | None,
        typer.Option("--trial-timeout", metavar="SECONDS",
                     help="Stop and fail a trial after this many seconds (default: what is left of --timeout plus "
                     f"{defaults.TRIAL_GRACE:g} s, else {defaults.TRIAL_TIMEOUT:g} s)."),
    ] = None,
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
    metric: opt.Metric = None,
    data: opt.Data = defaults.DATA,
    target: opt.Target = None,
    task: opt.TaskOption = None,
    test_size: opt.TestSize = defaults.TEST_SIZE,
    split_seed: opt.SplitSeed = defaults.SPLIT_SEED,
    n_jobs: Annotated[
        int, typer.Option("--n-jobs", help="Trials run in parallel threads within each worker.")
    ] = defaults.N_JOBS,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes sharing the study (use the cores; see README).")
    ] = defaults.WORKERS,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress.")] = True,
    log_model: Annotated[
        bool,
        typer.Option("--log-model/--no-log-model", help="Refit the best configuration; log it on the study's run."),
    ] = defaults.LOG_MODEL,
    refit_all_rows: Annotated[
        bool,
        typer.Option("--refit-all-rows/--refit-training-split",
                     help="Once its test score is measured, fit the delivered model on every row (test rows too)."),
    ] = defaults.REFIT_ALL_ROWS,
    figures: Annotated[
        bool,
        typer.Option("--figures/--no-figures", help="Draw the study's figures and trials.csv on its run at the end."),
    ] = defaults.FIGURES,
    register: opt.Register = None,
) -> None:
    """Run (or resume) a study, every trial logged to MLflow.

    Running the same command again resumes the study and adds --n-trials more.
    Ctrl-C stops it within seconds; every finished trial is kept and logged.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress and summary instead
    config = StudyConfig(
        models=tuple(models), n_trials=n_trials, timeout=timeout, trial_timeout=trial_timeout, study_name=study_name,
        storage=storage, tracking=tracking_uri, experiment=experiment, sampler=sampler, pruner=pruner, seed=seed,
        data=DataSpec(data, target, test_size, split_seed, task), scoring=Scoring(metric, cv), n_jobs=n_jobs,
        workers=workers, log_model=log_model, refit_all_rows=refit_all_rows, figures=figures, register=register,
    )
    reporter = ConsoleReporter(bar=progress and sys.stderr.isatty(), quiet=not progress)
    outcome = run_study(config, reporter)
    if outcome.interrupted:
        print(f"search: {interrupted_line(outcome)}", file=sys.stderr)
        sys.exit(EXIT_CODE)  # not typer.Exit: its 130 is Typer's word for a Ctrl-C nobody reported (see main)
