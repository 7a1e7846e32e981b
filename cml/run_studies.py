"""CML job: run (or resume) one Optuna study per model, every trial tracked in MLflow.

Settings come from the project's environment variables (see .project-metadata.yaml),
and job arguments override them:

    cml/run_studies.py [MODEL ...] [--n-trials N] [--timeout SECONDS]

SEARCH_MODELS       models to study, one study each (default: knn random-forest)
SEARCH_N_TRIALS     trials to add to each study per run (default: 20)
SEARCH_TIMEOUT      stop starting trials of a study after this many seconds (blank: no limit)
SEARCH_TRACKING_URI MLflow store (blank: the project's sqlite:///<project>/mlflow.db)
SEARCH_STORAGE      Optuna storage (blank: the project's sqlite:///<project>/optuna.db,
                    or <project>/optuna.journal with SEARCH_WORKERS above 1)
SEARCH_REGISTER     registered model each study's best model becomes a version of (blank: none)
SEARCH_WORKERS      CML workers running each study's trials (blank or 1: this job runs them)
SEARCH_WORKER_CPU, SEARCH_WORKER_MEMORY   cores and GiB of each CML worker (default 1 and 2)

Each study is run by `search.study.run_study`, exactly as ``search study MODEL``
runs it, and reported the same way; running the job again resumes them. With
SEARCH_WORKERS above 1 the job makes each study and its MLflow run, starts the
workers (cml/launch_workers.py), and reports and logs every trial they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

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
        configs = make_configs(args, root)
        remote = remote_workers(root)
        interrupted = run(configs, remote)
    except (SearchError, ParamError, project.SettingError) as error:
        project.error_line(PROG, error)
        return getattr(error, "exit_code", 2)
    if interrupted:
        print(f"{PROG}: interrupted; every finished trial is saved and logged. Run the job again to resume.",
              file=sys.stderr)
        return EXIT_CODE
    return 0


def make_configs(args: argparse.Namespace, root) -> list:
    """One validated StudyConfig per model, all checked before any study starts."""
    n_trials = args.n_trials if args.n_trials is not None else project.n_trials()
    timeout = args.timeout if args.timeout is not None else project.timeout()
    configs = {}
    for model in args.models or project.models():
        config = project.study_config((model,), root, n_trials, timeout, workers=project.workers())
        configs.setdefault(config.name, config)  # "rf" and "random-forest" are one study
    return list(configs.values())


def remote_workers(root) -> Callable[[], object] | None:
    """What makes each study's CML workers (None: this job runs the trials); checked here, before any study."""
    count = project.workers()
    if count == 1:
        return None
    from launch_workers import CmlWorkers, workers_api

    cpu, memory = project.worker_resources()
    workers_api(count)
    return lambda: CmlWorkers(count, cpu, memory, root)


def run(configs: list, remote: Callable[[], object] | None = None) -> bool:
    """Run each study, reported one line per trial; True if one was interrupted (the rest are not started)."""
    import optuna

    from search.report import ConsoleReporter
    from search.study import run_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # as `search study`: our one line per trial instead
    from search.stores.mlflow import ui_address
    from search.stores.urls import is_server

    # A tracking server has its own UI (the application serves only the project's stores).
    server = next((c.tracking_uri for c in configs if is_server(c.tracking_uri)), None)
    address = project.app_address() if server is None else None
    for config in configs:
        outcome = run_study(config, ConsoleReporter(ui=address), remote() if remote else None)
        print(flush=True)
        if outcome.interrupted:
            return True
    if server is not None:
        print(f"Every study and trial is in the tracking server's MLflow UI: {ui_address(server)}", flush=True)
    elif address is not None:
        print(f"Every study and trial is in this project's 'MLflow UI' application: {ui_address(address)}", flush=True)
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], globals().get("__file__")))
