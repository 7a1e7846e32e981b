"""Small helpers for what commands print."""

from __future__ import annotations

import sys
from typing import Any


def error_line(message: str) -> None:
    """One line on stderr, the way every user-caused error is reported."""
    print(f"search: error: {' '.join(str(message).split())}", file=sys.stderr)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (no colour, so it survives logs and pipes)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
