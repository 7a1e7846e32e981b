"""Usage lines as Unix tools write them: ``search best [OPTIONS] STUDY``, not Typer's ``{study_name}``."""

from __future__ import annotations

import typer
from typer.core import TyperCommand


class PlainUsage(TyperCommand):
    """A command whose usage line names its arguments by their metavar (``MODEL...``, ``[STUDY]``)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or param.name.upper()
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
        return pieces
