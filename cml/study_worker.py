"""A CML worker of the study job: runs its share of one study's trials, then exits.

The study job starts it (cml/launch_workers.py) on a CML worker engine; to
debug one, it runs the same way by hand, from the project:

    python cml/study_worker.py MODEL --seed SEED --slot I [--n-trials N] [--timeout SECONDS]

It opens the study the job made (in SEARCH_STORAGE, which the job sets) with
the project's settings, and runs N trials drawn with the study's seed offset
by its slot. It writes nothing to MLflow: the job logs every trial. Exit 0 when
its trials ran, else a one-line error and exit 1 (CML then reports it failed).
"""

from __future__ import annotations

import argparse
import os
import sys

import project
import studies
from models import ParamError
from search.errors import SearchError
from search.interrupts import EXIT_CODE
from search.study.remote import run_share
from search.study.workers import worker_id

PROG = "study_worker"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Run a share of a study's trials on a CML worker.")
    parser.add_argument("models", nargs="+", help="the study's models, as the job gave them")
    parser.add_argument("--seed", type=int, required=True, help="the study's seed (this worker adds its slot)")
    parser.add_argument("--slot", type=int, required=True, help="this worker's number, from 1")
    parser.add_argument("--n-trials", type=int, default=None, help="trials to run")
    parser.add_argument("--timeout", type=float, default=None, help="start no trial after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str], script: str | None) -> int:
    args = parse_args(argv)

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        root = project.project_root(script)
        os.chdir(root)
        config = studies.study_config(args.models, root, args.n_trials, args.timeout, seed=args.seed,
                                      workers=project.workers())
        ran = run_share(config, args.slot)
    except (SearchError, ParamError, project.SettingError) as error:
        project.error_line(PROG, error)
        return 1
    except KeyboardInterrupt:  # stopped by the job (stop_workers): the trial it was fitting is recorded
        print(f"{PROG}: {worker_id()} stopped; its finished trials are in the study", file=sys.stderr)
        return EXIT_CODE
    print(f"{PROG}: {worker_id()} ran {ran} trials of study {config.name!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], globals().get("__file__")))
