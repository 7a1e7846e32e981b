"""The ``search`` command line.

Each command's module is imported when that command runs (or shows its help),
as Click's "lazily loading subcommands" recipe does, and MLflow, Optuna and
scikit-learn only by the code that uses them: ``search --help`` loads Typer
and this module alone. The modules mirror the command tree: ``study``,
``run``, ``models``, ``results`` (best, trials), ``sync``, ``predict``,
``plot``, ``ui``.
"""

from __future__ import annotations

import os
import sys

# Plain Click help instead of Rich panels: importing Rich would double the start-up of every command.
os.environ.setdefault("TYPER_USE_RICH", "0")

import importlib
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from models import ParamError
from search.cli.usage import PlainUsage
from search.deliverable.lineage import record_command
from search.errors import SearchError
from search.interrupts import EXIT_CODE
from search.stores.tracking_store import quiet_mlflow
from search.text import error_line as format_error
from search.text import mask, warnings_as_lines

if TYPE_CHECKING:
    import click

#: Each command: the module defining it (a function of the command's name, or ``run_app``), and the line
#: ``search --help`` lists it with: the function's docstring's first line (a test keeps them equal).
COMMANDS = {
    "models": ("search.cli.models", "List the models, their parameters and search spaces."),
    "study": ("search.cli.study", "Run (or resume) a study, every trial logged to MLflow."),
    "best": ("search.cli.results", "Show a study's best trial and its test scores."),
    "trials": ("search.cli.results", "List a study's trials, with their estimator params."),
    "sync": ("search.cli.sync", "Repair a study's MLflow runs after a crash or an outage."),
    "predict": ("search.cli.predict", "Predict with a logged model, for each row of a CSV file."),
    "plot": ("search.cli.plot", "Write a study's figures (history, importances, ...) as PNG files."),
    "ui": ("search.cli.ui", "Serve the MLflow UI on the tracking store (127.0.0.1)."),
    "run": ("search.cli.run", "Fit a model once with fixed parameters; log it to MLflow."),
}


class LazyCommands(TyperGroup):
    """The commands, each built from its module when it is asked for: listing them imports none."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        if name == "run":
            command = typer.main.get_group(module.run_app)
        else:
            single = typer.Typer()
            single.command(name=name, cls=PlainUsage)(getattr(module, name))
            command = typer.main.get_command(single)
        command.name = name
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


app = typer.Typer(
    cls=LazyCommands,
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
