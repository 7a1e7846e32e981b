"""``search study``: what a user sees in MLflow after a study, resuming, and interruption."""

import json
import os
import signal
import subprocess
import time

import optuna
import pytest
from support import QUICK, SEARCH, cli_env
from support import experiment_runs as _study_runs


def test_study_logs_one_parent_and_a_child_run_per_trial(search_cli, client, storage):
    result = search_cli("study", "knn", "--n-trials", "8", "--seed", "1", *QUICK)
    assert result.returncode == 0, result

    parents, children = _study_runs(client, "knn")
    assert len(parents) == 1 and len(children) == 8
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    trials = {t.number: t for t in optuna.load_study(study_name="knn", storage=storage).trials}
    for child in children:
        trial = trials[int(child.data.tags["number"])]
        expected = {**{k: str(v) for k, v in trial.params.items()}, "seed": "1"}  # knn's params need no decoding
        assert child.data.params == expected
        assert child.info.status == {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}[trial.state.name]
        if trial.state.name == "COMPLETE":
            assert child.data.metrics["cv_accuracy"] == pytest.approx(trial.value)
            assert {"cv_accuracy_std", "fit_time"} <= set(child.data.metrics)
            assert "test_accuracy" not in child.data.metrics, "a trial is its folds: no test score per trial"
    assert parents[0].data.params["metric"] == "accuracy"
    assert parents[0].info.status == "FINISHED"
    assert "Best: trial" in result.stdout and "over 5 folds" in result.stdout
    assert "test_accuracy" not in result.stdout, "no model delivered (--no-log-model), so nothing was tested"


def test_running_the_same_study_again_resumes_it(search_cli, client):
    assert search_cli("study", "knn", "--n-trials", "3", *QUICK).returncode == 0
    second = search_cli("study", "knn", "--n-trials", "2", *QUICK)
    assert second.returncode == 0, second
    assert "already had 3 trials" in second.stdout
    parents, children = _study_runs(client, "knn")
    assert len(parents) == 1 and len(children) == 5


@pytest.mark.slow  # a whole study with its helper processes
def test_resuming_with_another_metric_is_refused(search_cli):
    assert search_cli("study", "knn", "--n-trials", "1", *QUICK).returncode == 0
    result = search_cli("study", "knn", "--n-trials", "1", "--metric", "f1", *QUICK)
    assert result.returncode == 2
    assert "was run with metric=accuracy" in result.stderr


@pytest.mark.slow  # a whole study with its helper processes
def test_several_models_make_one_study_with_the_model_as_a_parameter(search_cli, client, storage):
    result = search_cli("study", "knn", "rf", "--n-trials", "8", "--seed", "3", "--pruner", "none", "--data", "iris",
                        "--cv", "3", *QUICK)
    assert result.returncode == 0, result
    study = optuna.load_study(study_name="knn-random-forest-iris", storage=storage)
    models = {t.params["model"] for t in study.trials}
    assert models == {"knn", "random-forest"}
    for trial in study.trials:  # each trial carries only its own model's parameters
        own = trial.params["model"] + "__"
        assert all(k == "model" or k.startswith(own) for k in trial.params)
    _, children = _study_runs(client, "knn-random-forest-iris")
    assert len(children) == 8


def test_study_on_a_bundled_dataset_with_another_metric(search_cli, client):
    result = search_cli("study", "knn", "--data", "iris", "--metric", "f1_macro", "--n-trials", "2", "--cv", "3",
                        *QUICK)
    assert result.returncode == 0, result
    _, children = _study_runs(client, "knn-iris")
    metrics = children[0].data.metrics
    assert {"cv_f1_macro", "cv_f1_macro_std", "fit_time"} <= set(metrics)


def test_experiment_option_names_the_mlflow_experiment(search_cli, client):
    assert search_cli("study", "knn", "--n-trials", "2", "--experiment", "my-exp", *QUICK).returncode == 0
    parents, children = _study_runs(client, "my-exp")
    assert len(parents) == 1 and len(children) == 2


@pytest.mark.parametrize("sampler", ["random", "cmaes", "qmc"])
def test_each_sampler_runs(search_cli, client, sampler):
    result = search_cli("study", "knn", "--n-trials", "3", "--sampler", sampler, "--study-name", f"s-{sampler}", *QUICK)
    assert result.returncode == 0, result
    assert len(_study_runs(client, f"s-{sampler}")[1]) == 3


def test_hyperband_pruner_and_threads(search_cli, client):
    result = search_cli("study", "knn", "--n-trials", "8", "--pruner", "hyperband", "--n-jobs", "2", *QUICK)
    assert result.returncode == 0, result
    _parents, children = _study_runs(client, "knn")
    assert len(children) == 8 and len({c.data.tags["number"] for c in children}) == 8


@pytest.mark.slow  # a whole study with its helper processes
def test_best_and_trials_report_the_study(search_cli):
    assert search_cli("study", "knn", "--n-trials", "4", "--no-figures").returncode == 0  # a model delivered
    best = search_cli("best", "knn", "--format", "json")
    assert best.returncode == 0, best
    row = json.loads(best.stdout)
    assert row["study"] == "knn" and {"n_neighbors", "test_accuracy", "value"} <= set(row)
    csv_out = search_cli("trials", "knn", "--format", "csv")
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("number,state,value") and len(lines) == 5
    table = search_cli("trials", "knn")
    assert "COMPLETE" in table.stdout
    missing = search_cli("best", "other")
    assert missing.returncode == 2 and "no study 'other' in the storage; it has: knn" in missing.stderr


@pytest.mark.slow
def test_installed_console_script_runs_a_study(run_cli, client):
    result = run_cli("study", "knn", "--n-trials", "3")
    assert result.returncode == 0, result.stderr
    assert "Ran 3 trials" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert [line.split()[1] for line in lines] == ["0", "1", "2"]  # Optuna's trial numbers, as MLflow's run names
    assert lines[-1].endswith("[3 of 3]")
    assert len(_study_runs(client, "knn")[1]) == 3


@pytest.mark.slow
def test_ctrl_c_before_the_trials_says_so_and_leaves_stores_the_next_command_uses(workdir):
    # The start line comes before the MLflow store is made and migrated: the signal lands in that work.
    process = subprocess.Popen([SEARCH, "study", "knn", "-n", "1", "--no-progress", "--no-figures"], cwd=workdir,
                               env={**cli_env(), "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().startswith("Study 'knn'")
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C, to the whole group
        _out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert not list(workdir.glob(".*.creating")), "no half-made store left beside the real one"
    again = subprocess.run([SEARCH, "study", "knn", "-n", "1", "--no-progress", "--no-figures"], cwd=workdir,
                           env=cli_env(), capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_interrupted_study_keeps_every_finished_trial_logged(workdir, client, storage):
    # Random forests with many trees: slow enough trials to interrupt mid-study.
    process = subprocess.Popen(
        [SEARCH, "study", "rf", "--n-trials", "200", "--no-progress"],
        cwd=workdir, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        while True:  # until two trials are stored: an event, however loaded the machine
            assert process.poll() is None, process.communicate()
            try:
                study = optuna.load_study(study_name="random-forest", storage=storage)
            except KeyError:  # not made yet
                study = None
            if study is not None and sum(t.state.is_finished() for t in study.trials) >= 2:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "search: stopping: every finished trial is kept (Ctrl-C again exits at once)", err
    assert "interrupted" in lines[-1] and len(lines) == 2, err
    study = optuna.load_study(study_name="random-forest", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len([t for t in finished if t.state.name in ("COMPLETE", "PRUNED")]) >= 2, "interrupted mid-study"
    parents, children = _study_runs(client, "random-forest")
    assert len(parents) == 1 and parents[0].info.status == "KILLED"
    assert sorted(int(c.data.tags["number"]) for c in children) == sorted(t.number for t in finished)
    cut_short = [t.number for t in finished if t.state.name == "FAIL"]  # none if the signal fell between trials
    assert "Repaired MLflow" not in out, "logging the trial the signal cut short is no repair"
    assert all(f"Logged the trial cut short ({n})." in out for n in cut_short), out
