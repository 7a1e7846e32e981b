"""Help as Unix tools write it: ``search best [OPTIONS] STUDY``, not Typer's ``{study_name}`` or ``STUDY <str>``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    import click


def _argument_name(param: click.Parameter) -> str:
    """``MODEL...`` for an argument taking several values, ``STUDY`` for one."""
    name = param.metavar or (param.name or "").upper()
    return name + ("..." if param.nargs != 1 else "")


class PlainUsage(TyperCommand):
    """A command whose usage line and help name its arguments by their metavar (``MODEL...``, ``[STUDY]``).

    Typer labels an argument with its Python type (``MODEL <list[str]>``), which a user reads as jargon.
    """

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((_argument_name(param), record[1]))
            else:
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
