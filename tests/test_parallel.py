"""Several processes on one study: workers (commands started at the same moment: `test_reliability`)."""

import subprocess
import sys

import optuna
import pytest
from support import cli_env
from support import experiment_runs as _layout

pytestmark = pytest.mark.slow


def test_workers_share_one_study_log_every_trial_once_and_report_each(run_cli, workdir):
    result = run_cli("study", "knn", "--n-trials", "10", "--workers", "2")  # not a terminal: one line per trial
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="knn", storage=f"sqlite:///{workdir / 'optuna.db'}")
    numbers = [t.number for t in study.trials if t.state.is_finished()]
    assert len(numbers) == 10  # the workers share the command's quota
    parents, children = _layout(f"sqlite:///{workdir / 'mlflow.db'}", "knn")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(c.data.tags["number"]) for c in children) == sorted(numbers)
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    printed = [int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert sorted(printed) == sorted(numbers), "each once"
    assert len(printed) == 10 and result.stdout.count("[10 of 10]") == 1
    counts = [int(line.rsplit("[", 1)[1].split()[0]) for line in result.stdout.splitlines()
              if line.startswith("trial ") and line.endswith("of 10]")]
    assert counts == list(range(1, 11)), "this command's count: strictly increasing, ending at what it adds"


def test_workers_of_a_several_model_study_start_when_they_cannot_be_forked(workdir):
    # With another thread running (a progress bar's monitor did it), forking is unsafe and the workers are
    # spawned: everything they are given must pickle. A lambda in the search space once made this fail.
    code = (
        "import sys, threading, time; from search.cli import main; "
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start(); "
        "sys.argv = ['search', 'study', 'knn', 'rf', '--n-trials', '4', '--workers', '2', '--no-progress', "
        "'--no-log-model']; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=cli_env(), capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr
    assert "Ran 4 trials." in result.stdout
    assert "A new study created" not in result.stdout + result.stderr, "no Optuna INFO lines from spawned processes"
    parents, children = _layout(f"sqlite:///{workdir / 'mlflow.db'}", "knn-random-forest")
    assert len(parents) == 1 and len(children) == 4
