"""B9 fixed costs: what a study and the everyday commands cost beyond the search itself, as a user runs them.

Each command runs as a fresh process (the venv's ``search``) in a fresh folder with the embedded
stores, timed from its start to its end; a figure is the median of 3 runs (1 with ``--quick``):

- a 20-trial kNN study on the default data, tracked, deliverable on (``search study knn -n 20``):
  its wall time over the sum of its trials' own durations (read from the Optuna storage);
- ``search study knn --timeout 10``: its wall time past the 10 s;
- a bad input refused (``--data missing.csv``), ``search --help``, ``search predict`` of 5 rows,
  a no-op ``search sync``, and ``search ui`` until it answers HTTP.

Targets (#23): ratio <= 1.2; <= T + 5 s; <= 1 s; <= 0.10 s; <= 2 s; <= 2 s; <= 5 s.

    python -m benchmarks.b9_fixed_costs [--quick]
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks._common import Row, cli, print_table, venv_script

TIMEOUT = 10


def _timed(argv: list[str], cwd: Path, *, check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return seconds


def _trial_seconds(folder: Path, study: str) -> float:
    import optuna

    trials = optuna.load_study(study_name=study, storage=f"sqlite:///{folder / 'optuna.db'}").trials
    return sum(t.duration.total_seconds() for t in trials if t.duration is not None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ui_answers(search: str, folder: Path) -> float:
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen([search, "ui", "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                return time.perf_counter() - started
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("search ui ended before it answered") from None
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait()


def measure(search: str) -> dict[str, float]:
    """One round of every figure, each in a fresh folder."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        wall = _timed([search, "study", "knn", "-n", "20", "--seed", "1", "--register", "knn-clf", "--no-progress"],
                      folder)
        figures["study wall / its trials' time"] = wall / _trial_seconds(folder, "knn")
        columns = [f"x{i}" for i in range(20)]  # the default data's features
        (folder / "rows.csv").write_text(",".join(columns) + "\n" + "\n".join(
            ",".join(f"{0.1 * (row + i):.1f}" for i in range(20)) for row in range(5)) + "\n")
        figures["search predict, 5 rows (s)"] = _timed(
            [search, "predict", "models:/knn-clf@champion", "--data", "rows.csv"], folder)
        figures["search sync, nothing to do (s)"] = _timed([search, "sync", "knn"], folder)
        figures["search ui, until it answers (s)"] = _ui_answers(search, folder)
    with tempfile.TemporaryDirectory() as name:
        wall = _timed([search, "study", "knn", "--timeout", str(TIMEOUT), "--no-progress"], Path(name))
        figures[f"--timeout {TIMEOUT}: wall past it (s)"] = wall - TIMEOUT
    with tempfile.TemporaryDirectory() as name:
        figures["bad input refused (s)"] = _timed([search, "study", "knn", "--data", "missing.csv"], Path(name),
                                                  check=False)
        figures["search --help (s)"] = _timed([search, "--help"], Path(name))
    return figures


TARGETS = {
    "study wall / its trials' time": 1.2,
    f"--timeout {TIMEOUT}: wall past it (s)": 5.0,
    "bad input refused (s)": 1.0,
    "search --help (s)": 0.10,
    "search predict, 5 rows (s)": 2.0,
    "search sync, nothing to do (s)": 2.0,
    "search ui, until it answers (s)": 5.0,
}


def main(*, quick: bool) -> list[Row]:
    search = venv_script("search")
    rounds = [measure(search) for _ in range(1 if quick else 3)]
    rows = []
    for name, target in TARGETS.items():
        value = statistics.median(r[name] for r in rounds)
        rows.append(Row(name, round(value, 3), "", "target", value / target, f"<= {target:g}", value <= target))
    print_table("B9 fixed costs (median of rounds)", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
