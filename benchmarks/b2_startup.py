"""B2 start-up: how fast the ``search`` command answers when it has nothing heavy to do.

Each command runs as a fresh process (the venv's interpreter and its ``search``
script); a figure is the median of 7 runs (3 with ``--quick``), after one
unmeasured warm-up run, compared with ``python -c pass`` and ``python -c "import mlflow"``.
Target: ``search --help`` in at most 0.25 s, i.e. about 10x faster than importing MLflow;
no help (``search --help``, ``search models``, ``search run knn --help``) imports
scikit-learn or MLflow, checked in-process through ``sys.modules``.

    python -m benchmarks.b2_startup [--quick]
"""

from __future__ import annotations

import json
import tempfile

from benchmarks._common import PYTHON, Row, cli, print_table, ratio, run_cmd, run_cmd_time, venv_script

HELP_TARGET_S = 0.25
#: Modules a help must not import (required) and others worth knowing about (reported only).
FORBIDDEN = ("sklearn", "mlflow")
REPORTED = ("optuna", "numpy", "scipy", "pandas", "rich")

#: Run ``search.cli.main(argv)`` in-process, its output swallowed, and print which heavy modules it imported.
_MODULES_PROBE = """
import contextlib, io, json, sys
from search.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main({argv!r})
    except SystemExit as done:
        code = done.code
print(json.dumps({{"code": code, "printed": len(out.getvalue()),
                   "modules": [m for m in {modules!r} if m in sys.modules]}}))
"""


def imported_modules(argv: list[str]) -> list[str]:
    """The heavy modules ``search <argv>`` imports, from a fresh interpreter."""
    code = _MODULES_PROBE.format(argv=argv, modules=FORBIDDEN + REPORTED)
    probe = json.loads(run_cmd([PYTHON, "-c", code]).stdout.strip().splitlines()[-1])
    if probe["code"] not in (0, None) or probe["printed"] == 0:
        raise RuntimeError(f"search {' '.join(argv)} did not print its output in-process: {probe}")
    return probe["modules"]


def main(*, quick: bool) -> list[Row]:
    repeats = 3 if quick else 7
    search = venv_script("search")
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "python -c 'import mlflow'": [PYTHON, "-c", "import mlflow"],
        "search --help": [search, "--help"],
        "search models": [search, "models"],
        "search run knn --help": [search, "run", "knn", "--help"],
    }
    with tempfile.TemporaryDirectory() as workdir:  # nothing should be written, but never into the repo
        seconds = {name: run_cmd_time(argv, repeats, cwd=workdir) for name, argv in commands.items()}
    mlflow = seconds["python -c 'import mlflow'"]

    rows = [
        Row("python -c pass", seconds["python -c pass"], "s", "import mlflow",
            ratio(seconds["python -c pass"], mlflow)),
        Row("python -c 'import mlflow'", mlflow, "s", "import mlflow", 1.0),
    ]
    for name in ("search --help", "search models", "search run knn --help"):
        target, met = "", None
        if name == "search --help":
            target, met = f"<= {HELP_TARGET_S} s (~10x faster)", seconds[name] <= HELP_TARGET_S
        rows.append(Row(name, seconds[name], "s", "import mlflow", ratio(seconds[name], mlflow), target, met))
    for name in ("search --help", "search models", "search run knn --help"):
        mods = imported_modules(name.split()[1:])
        heavy = [m for m in mods if m in FORBIDDEN]
        others = ",".join(m for m in mods if m not in FORBIDDEN) or "none"
        rows.append(Row(f"{name}: imports sklearn/mlflow", bool(heavy), f"(also: {others})",
                        target="no", met=not heavy))
    print_table(f"B2 start-up, median of {repeats} fresh processes (ratio = time / import mlflow)", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
