"""``search study``: tune one or more models with Optuna, every trial tracked in MLflow."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from search.cli import _options as opt
from search.urls import DEFAULT_STORAGE


def study(
    models: Annotated[list[str], typer.Argument(help="Models to tune (see 'search models'); several make one study.")],
    n_trials: Annotated[Optional[int], typer.Option("--n-trials", "-n", help="Trials to run (this time).")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Stop starting trials after this many seconds.")] = None,
    study_name: Annotated[
        Optional[str], typer.Option("--study-name", help="Default: the models' names (plus the data's, if not synthetic).")
    ] = None,
    storage: opt.Storage = DEFAULT_STORAGE,
    tracking_uri: opt.TrackingUri = None,
    experiment: opt.Experiment = None,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe, random, cmaes, gp or qmc.")] = "tpe",
    pruner: Annotated[str, typer.Option("--pruner", help="median, hyperband or none.")] = "median",
    seed: opt.Seed = None,
    cv: opt.Folds = 5,
    metric: opt.Metric = "accuracy",
    data: opt.Data = "synthetic",
    target: opt.Target = None,
    test_size: opt.TestSize = 0.25,
    split_seed: opt.SplitSeed = 123,
    n_jobs: Annotated[int, typer.Option("--n-jobs", help="Trials run in parallel threads within each worker.")] = 1,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes sharing the study (use the cores; see README).")
    ] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Run (or resume) an Optuna study and log every trial to MLflow."""
    import optuna

    from search.study import StudyConfig, run_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are summarised at the end instead

    if n_trials is None and timeout is None:
        n_trials = 20
    config = StudyConfig(
        models=models, n_trials=n_trials, timeout=timeout, study_name=study_name, storage=storage,
        tracking_uri=tracking_uri, experiment=experiment, sampler=sampler.lower(), pruner=pruner.lower(), seed=seed,
        cv=cv, metric=metric, data=data, target=target, test_size=test_size, split_seed=split_seed, n_jobs=n_jobs, workers=workers,
        show_progress_bar=progress and sys.stderr.isatty(),
        progress_lines=progress and not sys.stderr.isatty(),
    )
    config.validate()
    print_start(config)
    try:
        outcome = run_study(config)
    except KeyboardInterrupt:
        print("search: interrupted; finished trials are saved and logged. Run the same command to resume.", file=sys.stderr)
        raise typer.Exit(130) from None
    print_summary(outcome, config)


def print_start(config) -> None:
    from search.urls import mask

    print(f"Study {config.resolved_study_name()!r}: {', '.join(config.models)} on {config.data}, "
          f"maximising cv_{config.metric} ({config.cv}-fold); storage {mask(config.storage)}", flush=True)


def print_summary(outcome, config) -> None:
    from search.study import chosen_model
    from search.tracking import METRICS_ATTRIBUTE_KEY
    from search.urls import mask

    study = outcome.study
    if outcome.trials_before:
        print(f"Resumed: the study already had {outcome.trials_before} trials; added {outcome.trials_added}.")
    else:
        print(f"Ran {outcome.trials_added} trials.")
    states = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    print("Trials: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())))
    failed = [t for t in study.trials if t.state.name == "FAIL" and "fail_reason" in t.system_attrs]  # record_failures
    if failed:
        reason = failed[-1].system_attrs["fail_reason"].strip().splitlines()[-1]
        print(f"  last failure (trial {failed[-1].number}): {reason}")
    try:
        best = study.best_trial
    except ValueError:
        print("No trial completed, so there is no best configuration yet.")
    else:
        spec, params = chosen_model(best.params, config.specs())
        scores = best.user_attrs.get(METRICS_ATTRIBUTE_KEY, {})
        print(f"Best: trial {best.number}, cv_{config.metric} = {best.value:.4f}, "
              f"test_{config.metric} = {scores.get(f'test_{config.metric}', float('nan')):.4f}")
        print(f"  model {spec.name}: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if outcome.unlogged_trials:
        print(f"Warning: trials {outcome.unlogged_trials} are not logged to MLflow yet.", file=sys.stderr)
    print(f"MLflow: {mask(outcome.tracking_uri)}, experiment id {outcome.experiment_id}, study run {outcome.study_run_id}")
    print(f"Open the UI with: search ui --tracking-uri '{mask(outcome.tracking_uri)}'")
