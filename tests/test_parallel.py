"""Several processes on one study: workers, and commands started at the same moment on fresh stores."""

import subprocess
import sys

import optuna
import pytest

from conftest import SEARCH, cli_env
from conftest import experiment_runs as _layout

pytestmark = pytest.mark.slow


def test_workers_share_one_study_and_log_every_trial_once(run_cli, workdir):
    result = run_cli("study", "knn", "--n-trials", "10", "--workers", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="knn", storage=f"sqlite:///{workdir / 'optuna.db'}")
    numbers = [t.number for t in study.trials if t.state.is_finished()]
    assert len(numbers) == 10  # the workers share the command's quota
    parents, children = _layout(f"sqlite:///{workdir / 'mlflow.db'}", "knn")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(c.data.tags["number"]) for c in children) == sorted(numbers)
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}


def test_commands_started_together_on_fresh_stores_all_succeed(workdir):
    processes = [
        subprocess.Popen([SEARCH, "study", "knn", "--n-trials", "3", "--no-progress"], cwd=workdir, env=cli_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for process in processes:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
    study = optuna.load_study(study_name="knn", storage=f"sqlite:///{workdir / 'optuna.db'}")
    assert len(study.trials) == 9
    parents, children = _layout(f"sqlite:///{workdir / 'mlflow.db'}", "knn")
    assert len(parents) == 1
    assert sorted(int(c.data.tags["number"]) for c in children) == list(range(9))


def test_progress_reports_every_trial_whoever_ran_it(run_cli, workdir):
    result = run_cli("study", "knn", "--n-trials", "10", "--workers", "2")  # not a terminal: one line per trial
    assert result.returncode == 0, result.stderr
    printed = [int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("trial ")]
    study = optuna.load_study(study_name="knn", storage=f"sqlite:///{workdir / 'optuna.db'}")
    assert printed == sorted(t.number for t in study.trials if t.state.is_finished()), "each once, in order"
    assert len(printed) == 10 and result.stdout.count("[10 of 10]") == 1


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
