"""Model plugins: an outside distribution adds a model through the ``search.models`` entry points."""

import os
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient
from support import SEARCH, cli_env, experiment_runs, pip_install

pytestmark = pytest.mark.slow

LIGHTGBM_PLUGIN = Path(__file__).parents[1] / "plugins" / "search-lightgbm"


@pytest.fixture(scope="module")
def lightgbm_site(tmp_path_factory) -> Path:
    return pip_install(LIGHTGBM_PLUGIN, tmp_path_factory)


def _run(plugin_site, workdir, *args):
    env = cli_env(PYTHONPATH=os.pathsep.join([str(plugin_site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([SEARCH, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=240)


def test_builtin_models_come_through_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="search.models")}
    assert {"knn", "random-forest"} <= names


def test_plugin_model_is_listed_studied_and_run(plugin_site, workdir):
    listed = _run(plugin_site, workdir, "models")
    assert listed.returncode == 0, listed.stderr
    assert "logistic" in listed.stdout and "0.001..1000.0 log" in listed.stdout

    studied = _run(plugin_site, workdir, "study", "logreg", "--n-trials", "3")
    assert studied.returncode == 0, studied.stderr

    ran = _run(plugin_site, workdir, "run", "logistic", "--C", "0.5", "--fit-intercept", "False", "--no-log-model")
    assert ran.returncode == 0, ran.stderr

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("logistic-runs")
    runs = client.search_runs([experiment.experiment_id])
    single = [r for r in runs if r.data.tags.get("search.role") == "run"]
    assert single[0].data.params["C"] == "0.5" and single[0].data.params["fit_intercept"] == "False"
    assert len(experiment_runs(client, "logistic")[1]) == 3, "the study's trials, in the study's own experiment"


def test_plugin_model_with_conditional_parameters_is_studied_and_logged_with_only_its_active_params(
    plugin_site, workdir
):
    studied = _run(plugin_site, workdir, "study", "svc", "--n-trials", "8", "--sampler", "random", "--seed", "3")
    assert studied.returncode == 0, studied.stderr
    children = experiment_runs(f"sqlite:///{workdir / 'mlflow.db'}", "svc")[1]
    assert len(children) == 8
    for run in children:
        params = run.data.params
        assert ("gamma" in params) == (params["kernel"] in ("rbf", "poly")), params
        assert ("degree" in params) == (params["kernel"] == "poly"), params
    refused = _run(plugin_site, workdir, "run", "svc", "--kernel", "linear", "--degree", "3")
    assert refused.returncode == 2 and "degree applies only when kernel is poly" in refused.stderr


def test_lightgbm_ships_as_a_third_party_plugin_for_both_tasks(lightgbm_site, workdir):
    listed = _run(lightgbm_site, workdir, "models")
    assert listed.returncode == 0 and "lightgbm" in listed.stdout and "classification, regression" in listed.stdout
    study = _run(lightgbm_site, workdir, "study", "lightgbm", "--data", "penguins", "--cv", "3", "-n", "3",
                 "--no-figures", "--register", "penguins-lgbm")
    assert study.returncode == 0, study.stderr[-2000:]
    assert "on penguins (classification), maximising cv_accuracy" in study.stdout
    from palmerpenguins import load_penguins

    rows = load_penguins().drop(columns=["species"]).head(5)
    rows.loc[0, "sex"] = None
    rows.to_csv(workdir / "penguins.csv", index=False)
    predicted = _run(lightgbm_site, workdir, "predict", "models:/penguins-lgbm@champion", "--data", "penguins.csv")
    assert predicted.returncode == 0, predicted.stderr  # loaded in the safe format, with the plugin's types
    assert predicted.stdout.splitlines()[0] == "prediction,probability_Adelie,probability_Chinstrap,probability_Gentoo"
    assert len(predicted.stdout.splitlines()) == 6
    regression = _run(lightgbm_site, workdir, "study", "lgbm", "--data", "diabetes", "--cv", "3", "-n", "2",
                      "--no-figures")
    assert regression.returncode == 0, regression.stderr[-2000:]
    assert "minimising cv_rmse" in regression.stdout
