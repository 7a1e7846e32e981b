"""What every benchmark shares: medians of repeated timings, the ``--quick`` flag and plain tables (pandas).

The machine a benchmark runs on is shared and noisy, so a figure is always the
median of several repeats and is printed next to a baseline measured in the same
run, as a ratio. A result row is::

    Row(name, value, unit, baseline, ratio, target, met)

``baseline`` names what ``ratio`` (= value / baseline's value) compares with,
``target`` says in words what is wanted and ``met`` is True, False or None (no target).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

#: The interpreter running the benchmarks: the project's venv when run as documented.
PYTHON = sys.executable


class Row(NamedTuple):
    """One measured figure, with what it is compared with and whether it meets its target."""

    name: str
    value: Any
    unit: str = ""
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


def venv_script(name: str) -> str:
    """The console script ``name`` installed next to the running interpreter (e.g. ``search``)."""
    found = shutil.which(name, path=str(Path(PYTHON).parent))
    if found is None:
        raise RuntimeError(f"no {name!r} script next to {PYTHON}; install the project in this venv")
    return found


def times(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> list[float]:
    """Wall times in seconds of ``repeats`` calls of ``fn`` (after ``warmup`` unmeasured calls)."""
    for _ in range(warmup):
        fn()
    measured = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        measured.append(time.perf_counter() - started)
    return measured


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``fn``."""
    return statistics.median(times(fn, repeats, warmup))


def run_cmd(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> subprocess.CompletedProcess:
    """Run ``argv`` once, output captured; a non-zero exit raises with the end of its stderr."""
    done = subprocess.run(
        list(argv), env=None if env is None else {**os.environ, **env}, cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{tail}")
    return done


def run_cmd_time(
    argv: Sequence[str],
    repeats: int,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    warmup: int = 1,
) -> float:
    """Median wall time in seconds of ``argv`` run as a fresh process (``env`` is added to ours)."""
    return median_time(lambda: run_cmd(argv, env, cwd), repeats, warmup)


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def _value_text(value: Any, unit: str = "") -> str:
    """A figure as the ``value`` column shows it, with its unit: "0.065 s", "yes", "-"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float) and unit == "s":
        text = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    elif isinstance(value, float):
        text = f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def format_table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> str:
    """``frame`` as plain text by pandas' ``to_string``: numbers right-aligned, text left-aligned, missing as "-".

    ``formats`` maps a numeric column to a `str.format` template (default ``"{:.4f}"``, e.g. ``"{:.3f}x"``).
    """
    import pandas as pd

    if frame.empty:
        return "  ".join(map(str, frame.columns))
    formats = dict(formats or {})
    columns: dict[str, pd.Series] = {}
    formatters: dict[str, Callable[[Any], str]] = {}
    spaces: dict[str, int] = {}
    for i, (label, column) in enumerate(frame.items()):
        name = str(label)
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            formatters[name] = formats.get(name, "{:.4f}").format
            width = max([len(name), *(len(formatters[name](v)) for v in column.dropna())])
        else:  # text: padded to its widest cell, header included, so pandas' right alignment leaves it left-aligned
            column = column.map(lambda v: "-" if pd.api.types.is_scalar(v) and pd.isna(v) else str(v))
            width = max([len(name), *column.str.len()])
            name, column = name.ljust(width), column.str.ljust(width)
        columns[name] = column
        spaces[name] = width + (1 if i else 0)  # and the space pandas puts between columns: two apart
    text = pd.DataFrame(columns).to_string(index=False, formatters=formatters, na_rep="-", col_space=spaces)
    return "\n".join(line.rstrip() for line in text.splitlines())


def print_frame(title: str, frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> None:
    """Print ``frame`` under ``title``: the one way every benchmark prints a table (see `format_table`)."""
    print(f"\n== {title} ==")
    print(format_table(frame, formats))
    sys.stdout.flush()


def print_table(title: str, rows: Iterable[Row | Sequence[Any]]) -> None:
    """Print ``rows`` under ``title``: each figure, its ratio to its baseline, its target and whether it is met."""
    import pandas as pd

    rows = [Row(*row) for row in rows]
    frame = pd.DataFrame({
        "figure": [row.name for row in rows],
        "value": [_value_text(row.value, row.unit) for row in rows],
        "vs": [row.baseline or None for row in rows],
        "ratio": pd.Series([row.ratio for row in rows], dtype=float),
        "target": [row.target or None for row in rows],
        "met": ["" if row.met is None else ("yes" if row.met else "NO") for row in rows],
    })
    print_frame(title, frame, {"ratio": "{:.3f}x"})


def all_met(rows: Iterable[Row | Sequence[Any]]) -> bool | None:
    """True if every row with a target meets it, False if one does not, None if none has a target."""
    verdicts = [Row(*r).met for r in rows if Row(*r).met is not None]
    return None if not verdicts else all(verdicts)


def cli(main: Callable[..., list[Row]], description: str, argv: Sequence[str] | None = None) -> None:
    """The command line every benchmark module shares: ``python -m benchmarks.bN_x [--quick]``.

    ``main(quick=...)`` prints its tables and returns its rows; the exit code is 0 even
    when a target is missed (a benchmark reports, it does not fail).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="reduced sizes, to check the benchmark runs")
    args = parser.parse_args(argv)
    rows = main(quick=args.quick)
    verdict = all_met(rows)
    print(f"\ntargets: {'-' if verdict is None else ('all met' if verdict else 'NOT all met')}"
          + ("  (quick mode: reduced sizes, not the benchmark's figures)" if args.quick else ""))
