"""The ``search`` command line.

Only Typer is imported here: MLflow, Optuna and scikit-learn are imported by
the commands that use them, so ``search --help`` answers at once. The modules
mirror the command tree: ``study``, ``run``, ``models``, ``results`` (best,
trials), ``sync``, ``predict``, ``plot``, ``ui``.
"""

from __future__ import annotations

import os
import sys
import warnings

# Plain Click help instead of Rich panels: importing Rich would double the start-up of every command.
os.environ.setdefault("TYPER_USE_RICH", "0")

from typing import Annotated

import typer

from search.cli.models import models
from search.cli.plot import plot
from search.cli.predict import predict
from search.cli.results import best, trials
from search.cli.run import run_app
from search.cli.study import study
from search.cli.sync import sync
from search.cli.ui import ui

app = typer.Typer(
    name="search",
    help="Hyperparameter search for scikit-learn models with Optuna, every trial tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        parts = ", ".join(f"{name} {version(name)}" for name in ("optuna", "mlflow", "scikit-learn"))
        print(f"search {version('cml-hyperparameter-search')} ({parts})")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the versions and exit.")
    ] = False,
) -> None:
    """Hyperparameter search for scikit-learn models with Optuna, every trial tracked in MLflow."""


app.command()(models)
app.command()(study)
app.command()(best)
app.command()(trials)
app.command()(sync)
app.command()(predict)
app.command()(plot)
app.command()(ui)
app.add_typer(run_app, name="run")


def error_line(message: str) -> None:
    """One line on stderr, the way every user-caused error is reported."""
    print(f"search: error: {' '.join(str(message).split())}", file=sys.stderr)


def _warning_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> str:
    return f"search: warning: {' '.join(str(message).split())}\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error a user can cause ends in one line on stderr and an exit code."""
    from models import ParamError
    from search.errors import SearchError
    from search.lineage import record_command
    from search.stores.mlflow import quiet_mlflow

    quiet_mlflow()
    record_command(["search", *(sys.argv[1:] if argv is None else argv)])
    warnings.formatwarning = _warning_line
    try:
        result = typer.main.get_command(app).main(args=argv, prog_name="search", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as error:  # Typer's usage errors (bad option, missing argument)
        if type(error).__name__ == "NoArgsIsHelpError":  # `search` (or `search run`) alone: the help, readable
            print(error.format_message())
            sys.exit(2)
        error_line(error.format_message())
        sys.exit(getattr(error, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        error_line("interrupted")
        sys.exit(130)
    except ParamError as error:
        error_line(str(error))
        sys.exit(2)
    except SearchError as error:
        error_line(str(error))
        sys.exit(error.exit_code)
    except Exception as error:
        if os.environ.get("SEARCH_DEBUG"):
            raise
        from search.tracking import mask

        error_line(f"unexpected {type(error).__name__}: {mask(str(error))} (set SEARCH_DEBUG=1 for the traceback)")
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
