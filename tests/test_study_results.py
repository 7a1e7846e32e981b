"""What a user reads after ``search study``: metrics that do not mislead, one numbering, the estimator's params.

Each test reads the results the way a user does: through MLflow's client
(sorted as the UI sorts), ``search trials`` / ``search best``, and the lines
the command printed.
"""

import re

import optuna
import pytest
from support import QUICK, experiment_runs


@pytest.mark.slow  # a whole study with its helper processes
def test_pruned_trials_never_outrank_complete_ones_in_the_main_metric(search_cli, client, storage):
    result = search_cli("study", "knn", "--n-trials", "14", "--seed", "1", *QUICK)
    assert result.returncode == 0, result
    experiment = client.get_experiment_by_name("knn")
    ranked = client.search_runs([experiment.experiment_id], "tags.`mlflow.parentRunId` != ''",
                                order_by=["metrics.cv_accuracy DESC"], max_results=100)
    study = optuna.load_study(study_name="knn", storage=storage)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert pruned, "the seed gives pruned trials"
    killed = [r for r in ranked if r.info.status == "KILLED"]
    assert len(killed) == len(pruned)
    for run in killed:  # the partial figure, under its own name, with the folds it saw
        assert "cv_accuracy" not in run.data.metrics
        assert "cv_accuracy_partial" in run.data.metrics
    assert ranked[0].info.status == "FINISHED"
    assert int(ranked[0].data.tags["number"]) == study.best_trial.number
    lines = [line for line in result.stdout.splitlines() if " pruned " in line]
    # Said in words a user reads right: a partial score above the best is not a better trial.
    assert len(lines) == len(pruned)
    assert all(re.search(r"pruned  stopped early: behind the other trials after \d of 5 folds, cv_accuracy "
                         r"[0-9.]+ over them  best ", line) for line in lines), lines
    table = search_cli("trials", "knn", "--format", "json")
    rows = {row["number"]: row for row in __import__("json").loads(table.stdout)}
    for trial in pruned:
        assert rows[trial.number]["value"] is None
        assert rows[trial.number]["partial"] == pytest.approx(trial.value)


def test_each_fold_score_is_a_step_and_the_main_metric_is_logged_once(search_cli, client):
    assert search_cli("study", "knn", "--n-trials", "3", "--pruner", "none", "--seed", "2", *QUICK).returncode == 0
    _, children = experiment_runs(client, "knn")
    for run in children:
        folds = client.get_metric_history(run.info.run_id, "fold_accuracy")
        assert [m.step for m in folds] == [0, 1, 2, 3, 4]
        running = client.get_metric_history(run.info.run_id, "cv_accuracy_partial")
        assert [m.step for m in running] == [0, 1, 2, 3, 4], "the running mean, once per step"
        assert running[-1].value == pytest.approx(sum(m.value for m in folds) / 5)
        assert len(client.get_metric_history(run.info.run_id, "cv_accuracy")) == 1


def test_one_numbering_everywhere_optunas_trial_number(search_cli, client):
    result = search_cli("study", "knn", "--n-trials", "4", "--seed", "3", *QUICK)
    assert result.returncode == 0, result
    printed = [int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert printed == [0, 1, 2, 3]
    best_line = next(line for line in result.stdout.splitlines() if line.startswith("Best: trial "))
    best_number = int(best_line.split()[2].rstrip(","))
    best_printed = next(line for line in result.stdout.splitlines() if line.startswith(f"trial {best_number} "))
    assert f"best {best_printed.split()[4]} (trial {best_number})" in result.stdout
    _, children = experiment_runs(client, "knn")
    assert sorted(run.info.run_name for run in children) == ["0", "1", "2", "3"]


@pytest.mark.slow  # a whole study with its helper processes
def test_runs_and_tables_show_the_estimators_parameters_not_the_search_encoding(search_cli, client):
    result = search_cli("study", "rf", "knn", "--n-trials", "8", "--seed", "5", "--pruner", "none", "--data", "iris",
                        "--cv", "3", *QUICK)
    assert result.returncode == 0, result
    parents, children = experiment_runs(client, "knn-random-forest-iris")
    for run in children:
        assert not any("_is_none" in key or "__" in key for key in run.data.params), run.data.params
        assert run.data.params["model"] in ("knn", "random-forest")
    forests = [r for r in children if r.data.params["model"] == "random-forest"]
    assert forests and all("max_depth" in r.data.params for r in forests)
    assert "_is_none" not in parents[0].data.tags["best_params"]
    for command in (["trials", "knn-random-forest-iris"], ["best", "knn-random-forest-iris"]):
        shown = search_cli(*command)
        assert shown.returncode == 0 and "_is_none" not in shown.stdout and "__" not in shown.stdout, shown
    lines = search_cli("best", "knn-random-forest-iris").stdout.splitlines()
    assert len({len(line) for line in lines}) == 1, "keys and values each in one aligned column"
    assert lines[0].startswith("study ") and any(line.startswith("model ") for line in lines)


@pytest.mark.slow  # a whole study with its helper processes
def test_the_order_models_are_typed_in_does_not_change_the_study(search_cli):
    first = search_cli("study", "rf", "knn", "--n-trials", "1", "--data", "iris", "--cv", "3", *QUICK)
    second = search_cli("study", "knn", "rf", "--n-trials", "1", "--data", "iris", "--cv", "3", *QUICK)
    assert first.returncode == 0 and second.returncode == 0, (first, second)
    assert "Study 'knn-random-forest-iris'" in first.stdout
    assert "already had 1 trial" in second.stdout


def test_a_changed_sampler_on_resume_is_said_and_recorded(search_cli, client, storage):
    assert search_cli("study", "knn", "--n-trials", "2", *QUICK).returncode == 0
    resumed = search_cli("study", "knn", "--n-trials", "2", "--sampler", "random", "--pruner", "none", *QUICK)
    assert resumed.returncode == 0, resumed
    start = resumed.stdout.splitlines()[0]
    assert "sampler random, pruner none" in start and "earlier trials used sampler tpe, pruner median" in start
    parents, _ = experiment_runs(client, "knn")
    stretches = sorted(v for k, v in parents[0].data.tags.items() if k.startswith("stretch "))
    assert len(stretches) == 2
    assert "sampler=tpe" in stretches[0] and "first_trial=0" in stretches[0]
    assert "sampler=random" in stretches[1] and "first_trial=2" in stretches[1]


def test_no_lock_file_is_left_behind(search_cli, workdir):
    assert search_cli("study", "knn", "--n-trials", "1", *QUICK).returncode == 0
    assert not [p.name for p in workdir.iterdir() if "lock" in p.name]


def test_experiments_are_marked_as_model_training_and_their_ui_address_lands_there(search_cli, client):
    result = search_cli("study", "knn", "--n-trials", "1", *QUICK)
    experiment = client.get_experiment_by_name("knn")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert f"#/experiments/{experiment.experiment_id}?workflowType=machine_learning" in result.stdout


def test_search_best_shows_a_long_study_name_whole(search_cli, storage):
    name = "hist-gradient-boosting-knn-linear-random-forest-chile_train"  # what `study all` on a CSV may be named
    assert search_cli("study", "knn", "-n", "1", "--study-name", name, *QUICK).returncode == 0
    shown = search_cli("best", name).stdout.splitlines()[0].split()
    assert shown == ["study", name], "not cut with '...'"
