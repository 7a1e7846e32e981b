"""CML job: run (or resume) one Optuna study per model, every trial tracked in MLflow.

Settings come from the project's environment variables (see .project-metadata.yaml),
and job arguments override them:

    cml/run_studies.py [MODEL ...] [--n-trials N] [--timeout SECONDS]

SEARCH_MODELS       models to study, one study each (default: knn random-forest)
SEARCH_N_TRIALS     trials to add to each study per run (default: 20)
SEARCH_TIMEOUT      stop starting trials of a study after this many seconds (blank: no limit)
SEARCH_TRACKING_URI MLflow store (blank: the project's sqlite:///<project>/mlflow.db)
SEARCH_STORAGE      Optuna storage (blank: the project's sqlite:///<project>/optuna.db)
SEARCH_REGISTER     registered model each study's best model becomes a version of (blank: none)

Each study is run by `search.study.run_study`, exactly as ``search study MODEL``
runs it, and reported the same way; running the job again resumes them.
"""

from __future__ import annotations

import argparse
import os
import sys

import project

PROG = "run_studies"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Run (or resume) one Optuna study per model.")
    parser.add_argument("models", nargs="*", help="models to study (default: $SEARCH_MODELS)")
    parser.add_argument("--n-trials", type=int, default=None,
                        help="trials to add per study (default: $SEARCH_N_TRIALS)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per study (default: $SEARCH_TIMEOUT)")
    return parser.parse_args(argv)


def main(argv: list[str], script: str | None) -> int:
    args = parse_args(argv)

    from models import ParamError
    from search.errors import SearchError
    from search.stores.mlflow import quiet_mlflow
    from search.study.interrupts import EXIT_CODE

    quiet_mlflow()
    try:
        root = project.project_root(script)
        os.chdir(root)  # what MLflow anchors at the working directory (artifact locations) lands in the project too
        tracking_uri = project.tracking_uri(root)
        # CML points MLFLOW_TRACKING_URI at its own tracking; in this job, the project's store is the one.
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        configs = make_configs(args, root, tracking_uri)
        interrupted = run(configs)
    except (SearchError, ParamError, project.SettingError) as error:
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    if interrupted:
        print(f"{PROG}: interrupted; every finished trial is saved and logged. Run the job again to resume.",
              file=sys.stderr)
        return EXIT_CODE
    return 0


def make_configs(args: argparse.Namespace, root, tracking_uri: str) -> list:
    """One validated StudyConfig per model, all checked before any study starts."""
    from search.study import StudyConfig

    n_trials = args.n_trials if args.n_trials is not None else project.n_trials()
    timeout = args.timeout if args.timeout is not None else project.timeout()
    configs: dict[str, StudyConfig] = {}
    for model in args.models or project.models():
        config = StudyConfig(models=(model,), n_trials=n_trials, timeout=timeout, storage=project.storage(root),
                             tracking_uri=tracking_uri, register=project.register())
        configs.setdefault(config.name, config)  # "rf" and "random-forest" are one study
    return list(configs.values())


def run(configs: list) -> bool:
    """Run each study, reported one line per trial; True if one was interrupted (the rest are not started)."""
    import optuna

    from search.report import ConsoleReporter
    from search.study import run_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # as `search study`: our one line per trial instead
    for config in configs:
        outcome = run_study(config, ConsoleReporter(ui=project.app_address()))
        print(flush=True)
        if outcome.interrupted:
            return True
    from search.stores.mlflow import ui_address

    address = project.app_address()
    if address is not None:
        print(f"Every study and trial is in this project's 'MLflow UI' application: {ui_address(address)}", flush=True)
    else:
        print("Every study and trial is in the MLflow UI: run `search ui` in the project "
              "(e.g. .venv/bin/search ui), then open the address it prints.", flush=True)
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], globals().get("__file__")))
