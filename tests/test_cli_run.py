"""``search run``: the original scripts' job, one fixed-parameter run logged to MLflow."""

import mlflow
import pytest

from search.data import load_dataset


def _only_run(client, experiment_name):
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_knn_run_logs_params_scores_and_a_loadable_model(search_cli, client, tracking_uri):
    result = search_cli("run", "knn", "--n-neighbors", "3", "--tracking-uri", tracking_uri)
    assert result.returncode == 0, result
    run = _only_run(client, "knn-runs")
    assert run.data.params["n_neighbors"] == "3"
    assert run.data.params["weights"] == "uniform"  # unspecified: the declared default
    assert {"train_accuracy", "test_accuracy", "cv_accuracy", "fit_time"} <= set(run.data.metrics)
    assert run.info.status == "FINISHED"

    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    data = load_dataset()
    assert model.named_steps["model"].n_neighbors == 3
    assert (model.predict(data.features("test")) == data.y_test).mean() == pytest.approx(
        run.data.metrics["test_accuracy"]
    )


def test_random_forest_run_with_alias_and_unlimited_depth(search_cli, client, tracking_uri):
    result = search_cli(
        "run", "rf", "--max-depth", "none", "--n-estimators", "30", "--seed", "0", "--tracking-uri", tracking_uri
    )
    assert result.returncode == 0, result
    run = _only_run(client, "random-forest-runs")
    assert run.data.params["max_depth"] == "None" and run.data.params["n_estimators"] == "30"
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")  # skops, trusting the tree type
    assert model.named_steps["model"].max_depth is None


def test_run_uses_mlflow_tracking_uri_from_the_environment(search_cli, workdir, monkeypatch, client):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    assert _only_run(client, "knn-runs").data.params["n_neighbors"] == "5"


def test_blank_mlflow_tracking_uri_means_the_embedded_store(search_cli, workdir, monkeypatch, client):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "  ")
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    assert (workdir / "mlflow.db").exists()
    assert _only_run(client, "knn-runs")


def test_knn_matches_the_original_prototype_script_exactly(search_cli, client):
    # The prototype's knn script, --n-neighbors 3: train 0.94267, test 0.936.
    assert search_cli("run", "knn", "--n-neighbors", "3", "--no-log-model").returncode == 0
    metrics = _only_run(client, "knn-runs").data.metrics
    assert round(metrics["train_accuracy"], 5) == 0.94267
    assert round(metrics["test_accuracy"], 3) == 0.936


def test_a_random_forest_run_is_reproducible_from_its_logged_seed(search_cli, client):
    args = ("run", "random-forest", "--max-depth", "5", "--n-estimators", "50", "--no-log-model")
    assert search_cli(*args).returncode == 0
    first = _only_run(client, "random-forest-runs")
    seed = first.data.params["seed"]
    assert seed.isdigit(), "a seed is drawn and logged when none is given"
    assert search_cli(*args, "--seed", seed, "--experiment", "again").returncode == 0
    again = _only_run(client, "again")
    for name in ("train_accuracy", "test_accuracy", "cv_accuracy"):
        assert again.data.metrics[name] == first.data.metrics[name]


def test_single_runs_have_their_own_experiment_apart_from_the_study(search_cli, client):
    assert search_cli("study", "knn", "--n-trials", "2", "--no-log-model", "--no-figures").returncode == 0
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    study_runs = client.search_runs([client.get_experiment_by_name("knn").experiment_id])
    assert {r.data.tags.get("search.role") for r in study_runs if "mlflow.parentRunId" not in r.data.tags} == {"study"}
    assert _only_run(client, "knn-runs").data.tags["search.role"] == "run"
