"""What every benchmark shares: medians of repeated timings, the ``--quick`` flag and a plain table.

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
from typing import Any, NamedTuple

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


def _fmt(value: Any, unit: str = "") -> str:
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


def columns(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table: text left-aligned, numbers right-aligned."""
    cells = [list(headers)] + [[_fmt(v) if not isinstance(v, str) else v for v in row] for row in rows]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:]) for i in range(len(headers))]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(row, widths, numeric)).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def _looks_numeric(text: str) -> bool:
    head = text.split(" ")[0].rstrip("x%")
    try:
        float(head)
    except ValueError:
        return head == "-"
    return True


def print_table(title: str, rows: Iterable[Row | Sequence[Any]]) -> None:
    """Print ``rows`` under ``title``: each figure, its ratio to its baseline, its target and whether it is met."""
    body = []
    for row in map(lambda r: Row(*r), rows):
        met = "" if row.met is None else ("yes" if row.met else "NO")
        ratio_text = "-" if row.ratio is None else f"{row.ratio:.3f}x"
        body.append([row.name, _fmt(row.value, row.unit), row.baseline or "-", ratio_text, row.target or "-", met])
    print(f"\n== {title} ==")
    print(columns(["figure", "value", "vs", "ratio", "target", "met"], body))
    sys.stdout.flush()


def all_met(rows: Iterable[Row | Sequence[Any]]) -> bool | None:
    """True if every row with a target meets it, False if one does not, None if none has a target."""
    verdicts = [Row(*r).met for r in rows if Row(*r).met is not None]
    return None if not verdicts else all(verdicts)


def cli(main: Callable[[bool], list[Row]], description: str, argv: Sequence[str] | None = None) -> None:
    """The command line every benchmark module shares: ``python -m benchmarks.bN_x [--quick]``.

    ``main(quick)`` prints its tables and returns its rows; the exit code is 0 even
    when a target is missed (a benchmark reports, it does not fail).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="reduced sizes, to check the benchmark runs")
    args = parser.parse_args(argv)
    rows = main(args.quick)
    verdict = all_met(rows)
    print(f"\ntargets: {'-' if verdict is None else ('all met' if verdict else 'NOT all met')}"
          + ("  (quick mode: reduced sizes, not the benchmark's figures)" if args.quick else ""))
