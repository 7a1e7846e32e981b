"""The ``search`` command line.

Only Typer is imported here: MLflow, Optuna and scikit-learn are imported by
the commands that use them, so ``search --help`` answers at once. The modules
mirror the command tree: ``study``, ``run``, ``models``, ``results`` (best,
trials), ``sync``, ``predict``, ``plot``, ``ui``.
"""

from __future__ import annotations

import os
import sys

# Plain Click help instead of Rich panels: importing Rich would double the start-up of every command.
os.environ.setdefault("TYPER_USE_RICH", "0")

from typing import Annotated

import typer

from models import ParamError
from search.cli.models import models
from search.cli.plot import plot
from search.cli.predict import predict
from search.cli.results import best, trials
from search.cli.run import run_app
from search.cli.study import study
from search.cli.sync import sync
from search.cli.ui import ui
from search.cli.usage import PlainUsage
from search.deliverable.lineage import record_command
from search.errors import SearchError
from search.interrupts import EXIT_CODE
from search.stores.mlflow import quiet_mlflow
from search.text import error_line as format_error
from search.text import mask, warnings_as_lines

app = typer.Typer(
    name="search",
    help="Hyperparameter search for scikit-learn models with Optuna, every trial tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:  # noqa: FBT001 - Typer passes the flag positionally
    if value:
        from importlib.metadata import version

        parts = ", ".join(f"{name} {version(name)}" for name in ("optuna", "mlflow", "scikit-learn"))
        print(f"search {version('cml-hyperparameter-search')} ({parts})")
        raise typer.Exit()


@app.callback()
def _options(
    *,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the versions and exit.")
    ] = False,
) -> None:
    """Hyperparameter search for scikit-learn models with Optuna, every trial tracked in MLflow."""


app.command(cls=PlainUsage)(models)
app.command(cls=PlainUsage)(study)
app.command(cls=PlainUsage)(best)
app.command(cls=PlainUsage)(trials)
app.command(cls=PlainUsage)(sync)
app.command(cls=PlainUsage)(predict)
app.command(cls=PlainUsage)(plot)
app.command(cls=PlainUsage)(ui)
app.add_typer(run_app, name="run")


def error_line(message: str) -> None:
    """One line on stderr, the way every user-caused error is reported."""
    print(format_error("search", message), file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error a user can cause ends in one line on stderr and an exit code."""
    quiet_mlflow()
    record_command(["search", *(sys.argv[1:] if argv is None else argv)])
    warnings_as_lines("search")
    try:
        result = typer.main.get_command(app).main(args=argv, prog_name="search", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as error:  # Typer's usage errors (bad option, missing argument)
        if type(error).__name__ == "NoArgsIsHelpError":  # `search` (or `search run`) alone: the help, readable
            print(error.format_message())
            sys.exit(2)
        # Typer words a bad choice "Value error, 'xml' is not one of ...": the reason alone reads better.
        error_line(error.format_message().replace("Value error, ", ""))
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
        error_line(f"unexpected {type(error).__name__}: {mask(str(error))} (set SEARCH_DEBUG=1 for the traceback)")
        sys.exit(1)
    if result == EXIT_CODE:  # Typer's answer to a Ctrl-C before a command's own handling took over
        error_line("interrupted")
    sys.exit(result if isinstance(result, int) else 0)
