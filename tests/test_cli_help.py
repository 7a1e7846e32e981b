"""What ``search`` says about itself: help that reads, a version, accurate option texts."""

from support import SEARCH


def test_bare_search_prints_the_readable_help(run_cli):
    result = run_cli()
    assert result.returncode == 2
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage: search") and any(line.strip().startswith("study ") for line in lines)


def test_version_names_the_toolkit_and_its_libraries(search_cli):
    result = search_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("search 0.") and "optuna" in result.stdout and "mlflow" in result.stdout


def test_command_list_is_not_cut_short(search_cli):
    result = search_cli("--help")
    commands = result.stdout.split("Commands:")[1].splitlines()
    assert [line.split()[0] for line in commands if line.strip()] == [
        "models", "study", "best", "trials", "sync", "predict", "plot", "ui", "run"
    ]
    assert not any(line.rstrip().endswith("...") for line in commands), result.stdout


def test_run_help_lists_aliases_and_says_what_the_seed_seeds(search_cli):
    listed = search_cli("run", "--help").stdout
    assert "rf, random_forest, randomforest" in listed and "kneighbors" in listed
    knn = search_cli("run", "knn", "--help").stdout
    assert "Seed of the estimator" in knn and "sampler" not in knn
    assert "Default: 5." in knn  # the declared default, shown with each parameter


def test_one_trial_is_one_trial(search_cli, tracking_uri):
    assert "Ran 1 trial." in search_cli("study", "knn", "--n-trials", "1", "--no-log-model", "--no-figures").stdout


def test_the_ui_hint_is_a_command_that_works_where_search_is_not_on_path(search_cli, tracking_uri, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv is not activated
    result = search_cli("study", "knn", "--n-trials", "1", "--no-log-model", "--no-figures")
    assert result.returncode == 0, result
    hint = next(line for line in result.stdout.splitlines() if line.startswith("See it in the MLflow UI:"))
    assert f"{SEARCH} ui --tracking-uri" in hint
    assert "workflowType=machine_learning" in result.stdout


def test_all_and_each_models_bound_on_its_work_are_said_where_a_user_looks(search_cli):
    from search.plugins import registered_models

    assert "'all'" in " ".join(search_cli("study", "--help").stdout.split())
    listed = search_cli("models").stdout
    assert "'search study all' tunes every model above" in listed
    bounds = listed.split("How one fit's work is bounded")[1]
    for name, spec in registered_models().items():
        assert f"{name.ljust(len(max(registered_models(), key=len)))}  {spec.work_bound}" in bounds
    assert "svm" in bounds and "100,000 solver iterations" in bounds
