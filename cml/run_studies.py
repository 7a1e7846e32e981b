"""CML job: run (or resume) one Optuna study per model, every trial tracked in MLflow.

Settings come from the project's environment variables (see .project-metadata.yaml),
and job arguments override them:

    cml/run_studies.py [MODEL ...] [--n-trials N] [--timeout SECONDS]

SEARCH_MODELS       models to study, one study each (default: knn random-forest)
SEARCH_N_TRIALS     trials to add to each study per run (blank: the toolkit's default)
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
from pathlib import Path

import champion as export
import project
import studies
from launch_workers import CmlWorkers, workers_api
from models import ParamError
from search import defaults
from search.errors import SearchError
from search.interrupts import EXIT_CODE
from search.report import ConsoleReporter, interrupted_line
from search.stores.tracking_store import quiet_mlflow, ui_address
from search.study import StudyConfig, StudyOutcome, run_study
from search.study.remote import RemoteDriver
from search.text import warnings_as_lines

PROG = "run_studies"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Run (or resume) one Optuna study per model.")
    parser.add_argument("models", nargs="*", help="models to study (default: $SEARCH_MODELS)")
    parser.add_argument("--n-trials", type=int, default=None,
                        help=f"trials to add per study (default: $SEARCH_N_TRIALS, else {defaults.N_TRIALS})")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per study (default: $SEARCH_TIMEOUT)")
    return parser.parse_args(argv)


def main(argv: list[str], script: str | None) -> int:
    args = parse_args(argv)
    quiet_mlflow()
    warnings_as_lines(PROG)
    try:
        root = project.project_root(script)
        os.chdir(root)  # what MLflow anchors at the working directory (artifact locations) lands in the project too
        # CML points MLFLOW_TRACKING_URI at its own tracking; in this job, the project's store is the one.
        os.environ["MLFLOW_TRACKING_URI"] = studies.tracking(root).url
        configs = make_configs(args, root)
        remote = remote_workers(root)
        interrupted = run(configs, root, remote)
    except (SearchError, ParamError, project.SettingError) as error:
        project.error_line(PROG, error)
        return getattr(error, "exit_code", 2)
    if interrupted is not None:
        print(f"{PROG}: {interrupted_line(interrupted, again='Run the job again')}", file=sys.stderr)
        return EXIT_CODE
    return 0


def make_configs(args: argparse.Namespace, root: Path) -> list[StudyConfig]:
    """One validated StudyConfig per model, all checked before any study starts."""
    n_trials = args.n_trials if args.n_trials is not None else project.n_trials()
    timeout = args.timeout if args.timeout is not None else project.timeout()
    configs: dict[str, StudyConfig] = {}
    for model in args.models or project.models():
        config = studies.study_config((model,), root, n_trials, timeout, workers=project.workers())
        configs.setdefault(config.name, config)  # "rf" and "random-forest" are one study
    return list(configs.values())


def remote_workers(root: Path) -> Callable[[], RemoteDriver] | None:
    """What makes each study's CML workers (None: this job runs the trials); checked here, before any study."""
    count = project.workers()
    if count == 1:
        return None
    cpu, memory = project.worker_resources()
    workers_api(count)
    return lambda: RemoteDriver(CmlWorkers(count, cpu, memory, root))


def run(
    configs: list[StudyConfig], root: Path, remote: Callable[[], RemoteDriver] | None = None
) -> StudyOutcome | None:
    """Run each study, reported one line per trial; the one interrupted, if one was (the rest are not started)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # as `search study`: our one line per trial instead
    # A tracking server has its own UI (the application serves only the project's stores).
    server = next((c.tracking for c in configs if c.tracking.is_server), None)
    address = project.app_address() if server is None else None
    for config in configs:
        outcome = run_study(config, ConsoleReporter(ui=address), remote() if remote else None)
        print(flush=True)
        if outcome.interrupted:
            return outcome
    name = configs[0].register if configs else None
    if name is not None:  # what the project's CML model serves once it is built again
        exported = export.export(root, configs[0].tracking, name)
        if exported is not None:
            print(f"Exported the champion, {exported.label}, to {exported.folder} for the CML model: deploy the "
                  "model again to serve it.", flush=True)
    if server is not None:
        print(f"Every study and trial is in the tracking server's MLflow UI: {ui_address(server.url)}", flush=True)
    elif address is not None:
        print(f"Every study and trial is in this project's 'MLflow UI' application: {ui_address(address)}", flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], globals().get("__file__")))
