"""Run every benchmark (B1 to B9) in one process run and print each table, then a verdict per target.

    .venv/bin/pip install -q -e ".[bench]" && .venv/bin/python -m benchmarks.run_all [--quick]
"""

from __future__ import annotations

from benchmarks import (
    b1_tracking,
    b2_startup,
    b3_workers,
    b4_search_quality,
    b5_scale,
    b6_deliverable,
    b7_logging_scale,
    b8_fit_process,
    b9_fixed_costs,
)
from benchmarks._common import Row, all_met, cli

SUITE = {
    "B1 tracking overhead": b1_tracking.main,
    "B2 start-up": b2_startup.main,
    "B3 parallel trials": b3_workers.main,
    "B4 search quality": b4_search_quality.main,
    "B5 scale": b5_scale.main,
    "B6 deliverable": b6_deliverable.main,
    "B7 logging at scale": b7_logging_scale.main,
    "B8 fit isolation": b8_fit_process.main,
    "B9 fixed costs": b9_fixed_costs.main,
}


def main(*, quick: bool) -> list[Row]:
    rows: list[Row] = []
    verdicts = {}
    for name, run in SUITE.items():
        found = run(quick=quick)
        verdicts[name] = all_met(found)
        rows += found
    print("\n== Summary ==")
    for name, verdict in verdicts.items():
        print(f"{name:24s} {'-' if verdict is None else ('all targets met' if verdict else 'NOT all targets met')}")
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
