"""A study's outcome a user can load, trust and use: the best model logged, registered, explained, traceable.

Real stores: the sqlite MLflow store with its model registry, a real ``mlflow
server`` where the registry over HTTP matters, and headless chromium for the UI.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from support import ARTIFACTS, SEARCH, cli_env, experiment_runs, page_text

from search.data import DataSpec


def _study(search_cli, *args: str):
    result = search_cli("study", "knn", "--pruner", "none", "--no-progress", *args)
    assert result.returncode == 0, result
    return result


def _parent(tracking_uri: str, experiment: str = "knn"):
    parents, _ = experiment_runs(tracking_uri, experiment)
    assert len(parents) == 1
    return parents[0]


@pytest.mark.slow  # a whole study with its helper processes
def test_a_study_logs_its_best_model_registered_as_champion_with_plots_and_data(search_cli, tracking_uri):
    result = _study(search_cli, "--n-trials", "8", "--seed", "1", "--register", "knn-clf")
    assert "Registry: registered 'knn-clf' version 1; champion: version 1" in result.stdout
    client = MlflowClient(tracking_uri)
    parent = _parent(tracking_uri)
    models = client.search_logged_models(experiment_ids=[parent.info.experiment_id])
    assert [m.source_run_id for m in models] == [parent.info.run_id], "one logged model, on the study's run"
    model_id = models[0].model_id
    assert parent.data.tags["best_model.id"] == model_id

    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{model_id}")
    data = DataSpec().load()
    assert model[-1].n_samples_fit_ == data.n_samples, "delivered fitted on every row, the test split's too"
    assert models[0].tags["fitted_on"] == f"all {data.n_samples:,} rows"
    logged = {m.key: m.value for m in models[0].metrics}
    on_training_split = model.fit(data.features("train"), data.y_train)  # the fit its test score was measured on
    accuracy = (on_training_split.predict(data.features("test")) == data.y_test).mean()
    assert accuracy == pytest.approx(logged["test_accuracy"]) and "cv_accuracy" in logged and "train_accuracy" in logged
    assert f"test_accuracy = {accuracy:.4f} on the held-out split; refitted on all 1,000 rows" in result.stdout
    assert list(model.feature_names_in_) == list(data.feature_names), "the model knows its columns"

    version = client.get_model_version_by_alias("knn-clf", "champion")
    assert str(version.version) == "1"
    assert {"study", "trial", "metric", "cv_score", "test_score", "data_digest"} <= set(version.tags)
    assert version.tags["trial"] == parent.data.tags["best_model.trial"]

    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "trials.csv" in artifacts
    assert {"plots/optimization_history.png", "plots/param_importances.png", "plots/parallel_coordinate.png",
            "plots/slice.png"} <= plots
    table = pd.read_csv(client.download_artifacts(parent.info.run_id, "trials.csv"))
    assert len(table) == 8 and {"n_neighbors", "state", "cv_accuracy_std", "seed"} <= set(table.columns)

    contexts = {i.tags[0].value: i.dataset for i in parent.inputs.dataset_inputs}
    assert set(contexts) == {"training", "test"}
    assert contexts["training"].name == "synthetic" and contexts["training"].digest == version.tags["data_digest"]
    assert "make_classification" in contexts["training"].source
    _, children = experiment_runs(tracking_uri, "knn")
    assert {c.data.tags["dataset_digest"] for c in children} == {contexts["training"].digest}
    for run in (parent, children[0]):
        assert run.data.tags["version.scikit-learn"] and "study knn" in run.data.tags["command"]


@pytest.mark.slow  # a whole study with its helper processes
def test_the_champion_moves_only_to_a_better_version(search_cli, tracking_uri):
    client = MlflowClient(tracking_uri)
    _study(search_cli, "--n-trials", "1", "--seed", "0", "--register", "knn-clf", "--no-figures")
    better = _study(search_cli, "--n-trials", "6", "--seed", "1", "--register", "knn-clf", "--no-figures")
    assert "champion: version 2 (was 1)" in better.stdout
    assert str(client.get_model_version_by_alias("knn-clf", "champion").version) == "2"

    same = _study(search_cli, "--n-trials", "1", "--seed", "2", "--register", "knn-clf", "--no-figures")
    assert "Best model: unchanged" in same.stdout
    assert "Registry: 'knn-clf' version 2 already holds this model; champion: version 2" in same.stdout
    assert len(client.search_model_versions("name = 'knn-clf'")) == 2
    assert len(client.search_logged_models(experiment_ids=[_parent(tracking_uri).info.experiment_id])) == 2

    weaker = _study(search_cli, "--study-name", "knn-weak", "--n-trials", "1", "--seed", "0", "--register", "knn-clf",
                    "--no-figures")
    assert "registered 'knn-clf' version 3; champion unchanged: version 2 scored at least as well" in weaker.stdout
    assert str(client.get_model_version_by_alias("knn-clf", "champion").version) == "2"


def test_no_log_model_logs_no_model(search_cli, tracking_uri):
    _study(search_cli, "--n-trials", "2", "--no-log-model", "--no-figures")
    client = MlflowClient(tracking_uri)
    assert client.search_logged_models(experiment_ids=[_parent(tracking_uri).info.experiment_id]) == []
    refused = search_cli("study", "knn", "--no-log-model", "--register", "x")
    assert refused.returncode == 2 and "--register needs the best model logged" in refused.stderr


def test_a_fixed_run_registers_too(search_cli, tracking_uri):
    result = search_cli("run", "knn", "--n-neighbors", "3", "--register", "knn-clf")
    assert result.returncode == 0, result
    assert "champion: version 1" in result.stdout
    version = MlflowClient(tracking_uri).get_model_version_by_alias("knn-clf", "champion")
    assert float(version.tags["test_score"]) == pytest.approx(0.936)


@pytest.mark.parametrize("most_columns", [None, 3])
def test_the_logged_model_has_an_input_example_unless_the_table_is_too_wide_to_check_one_fast(
        search_cli, tracking_uri, monkeypatch, most_columns):
    from search.deliverable import logged_model

    if most_columns is not None:  # the synthetic table's 20 columns, as wide as 10,000 would be
        monkeypatch.setattr(logged_model, "INPUT_EXAMPLE_MAX_COLUMNS", most_columns)
    assert search_cli("run", "knn", "--n-neighbors", "3").returncode == 0
    client = MlflowClient(tracking_uri)
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    model = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model")
    assert [column["name"] for column in model.signature.inputs.to_dict()] == list(DataSpec().load().feature_names)
    assert (model.saved_input_example_info is None) == (most_columns is not None)


@pytest.fixture
def champion(search_cli, tracking_uri, workdir):
    _study(search_cli, "--n-trials", "3", "--seed", "1", "--register", "knn-clf", "--no-figures")
    data = DataSpec().load()
    data.features("test").iloc[:20].to_csv(workdir / "rows.csv", index=False)
    return data


def test_predict_prints_what_the_model_predicts_in_python(search_cli, tracking_uri, champion, workdir):
    result = search_cli("predict", "models:/knn-clf@champion", "--data", "rows.csv")
    assert result.returncode == 0, result
    printed = pd.read_csv(io.StringIO(result.stdout))
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model("models:/knn-clf@champion")
    rows = pd.read_csv(workdir / "rows.csv")
    assert printed["prediction"].tolist() == model.predict(rows).tolist()
    assert printed["probability_1"].tolist() == pytest.approx(model.predict_proba(rows)[:, 1].tolist(), abs=1e-6)
    by_study = search_cli("predict", "knn", "--data", "rows.csv", "--output", "out.csv")
    assert by_study.returncode == 0 and pd.read_csv(workdir / "out.csv").equals(printed)


def test_predict_writes_nothing_to_the_store_it_reads(search_cli, champion, workdir):
    def files() -> dict:
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in workdir.rglob("*") if p.is_file()}

    before = files()
    assert search_cli("predict", "models:/knn-clf@champion", "--data", "rows.csv").returncode == 0
    after = files()
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed == set(), f"a reading command wrote {sorted(map(str, changed))}"


BAD_PREDICTIONS = [
    ("models:/no-such-model@champion", "rows.csv", "cannot load model models:/no-such-model@champion"),
    ("models:/knn-clf@champion", "missing.csv", "lacks the model's column(s) x3"),
    ("models:/knn-clf@champion", "labelled.csv", "has column(s) the model does not take: target"),
    ("models:/knn-clf@champion", "empty.csv", "is empty"),
    ("no-such-study", "rows.csv", "no study 'no-such-study'"),
    # A store whose client library is missing (where boto3 is installed, this would go to S3: left out).
    *([("s3://bucket/model", "rows.csv", "reading it needs the Python package 'botocore', which is not installed")]
      if importlib.util.find_spec("botocore") is None else []),
]


def test_predict_refuses_bad_input_in_one_line(search_cli, champion, workdir):
    frame = champion.features("test").iloc[:5]
    frame.drop(columns=["x3"]).to_csv(workdir / "missing.csv", index=False)
    frame.assign(target=champion.y_test[:5]).to_csv(workdir / "labelled.csv", index=False)
    (workdir / "empty.csv").write_text("")
    for model, rows, fragment in BAD_PREDICTIONS:
        result = search_cli("predict", model, "--data", rows)
        assert result.returncode != 0 and result.stdout == "", (model, rows, result)
        assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr, result.stderr


@pytest.mark.slow  # a whole study with its helper processes
def test_plot_writes_the_figures_and_says_which_need_more_trials(search_cli, workdir):
    _study(search_cli, "--n-trials", "1", "--no-log-model")
    result = search_cli("plot", "knn", "--output", "figures")
    assert result.returncode == 0, result
    assert (workdir / "figures" / "optimization_history.png").stat().st_size > 1000
    assert "param_importances.png: skipped (needs 3 complete trials, it has 1)" in result.stdout


def test_figures_too_few_trials_per_model_are_said_in_one_line_not_nine():
    from search.deliverable.figures import Figure, skip_lines

    def few(filename: str, needs: int) -> Figure:
        return Figure(filename, skipped=f"{filename}: skipped (needs {needs}, it has 1)", needs=needs)

    single = [few("param_importances.png", 3), few("parallel_coordinate.png", 2)]
    assert skip_lines(single) == [made.skipped for made in single], "one model: each figure says why"
    several = [few(f"{kind}_{model}.png", needs) for model in ("knn", "random-forest", "my_model")
               for kind, needs in (("param_importances", 3), ("parallel_coordinate", 2), ("slice", 1))]
    failed = Figure("model_choice.png", skipped="model_choice.png: skipped (no complete trial to draw)")
    assert skip_lines([failed, *several]) == [
        failed.skipped,
        "9 figures skipped, too few complete trials yet (param_importances needs 3, parallel_coordinate needs 2, "
        "slice needs 1): knn, random-forest, my_model",
    ]


@pytest.mark.slow  # a whole study with its helper processes
def test_a_study_of_several_models_explains_the_model_choice(search_cli, tracking_uri):
    result = search_cli("study", "knn", "rf", "--n-trials", "8", "--seed", "3", "--pruner", "none", "--no-progress",
                        "--data", "iris", "--cv", "3", "--no-log-model")
    assert result.returncode == 0, result
    parent = _parent(tracking_uri, "knn-random-forest-iris")
    plots = {a.path for a in MlflowClient(tracking_uri).list_artifacts(parent.info.run_id, "plots")}
    assert "plots/model_choice.png" in plots
    slices = {p for p in plots if p.startswith("plots/slice_")}
    assert slices == {"plots/slice_knn.png", "plots/slice_random-forest.png"}


@pytest.mark.slow
def test_registry_over_http_and_the_ui_shows_the_model_and_its_registration(workdir, mlflow_server, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    command = [SEARCH, "study", "knn", "--n-trials", "4", "--register", "knn-clf", "--tracking-uri", mlflow_server.url]
    result = subprocess.run(command, cwd=workdir, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "champion: version 1" in result.stdout
    mlflow.set_tracking_uri(mlflow_server.url)
    assert mlflow.sklearn.load_model("models:/knn-clf@champion").predict(DataSpec().load().features("test")).size
    parent = _parent(mlflow_server.url)
    wait = WebDriverWait(browser, 60)
    browser.get(f"{mlflow_server.url}/#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}"
                "?workflowType=machine_learning")
    wait.until(lambda d: "Logged models" in page_text(d) and "model" in page_text(d))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "study-run-with-model.png"))
    browser.get(f"{mlflow_server.url}/#/models/knn-clf")
    wait.until(lambda d: "champion" in page_text(d) and "Version 1" in page_text(d))
    browser.save_screenshot(str(ARTIFACTS / "registered-model.png"))


def test_predictions_a_spreadsheet_would_run_as_formulas_are_written_as_text():
    from search.deliverable.predictions import spreadsheet_safe

    predictions = pd.DataFrame({"prediction": ["=1+2", "@SUM(A1:A9)", "+cmd", "-2+3", "\tx", "cat", "-1.5"],
                                "probability_cat": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]})
    written = pd.read_csv(io.StringIO(spreadsheet_safe(predictions).to_csv(index=False)), keep_default_na=False)
    assert written["prediction"].tolist() == ["'=1+2", "'@SUM(A1:A9)", "'+cmd", "'-2+3", "'\tx", "cat", "-1.5"]
    assert written["probability_cat"].tolist() == predictions["probability_cat"].tolist()


def test_the_history_figure_numbers_trials_as_every_table_does():
    import optuna

    from search.deliverable.figures import study_figures

    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    for value in (3.0, 1.0):
        study.add_trial(optuna.trial.create_trial(params={"x": value}, values=[value],
                                                  distributions={"x": optuna.distributions.FloatDistribution(0, 5)}))
    history = next(f for f in study_figures(study) if f.filename == "optimization_history.png")
    points = {(x, y) for dots in history.figure.axes[0].collections for x, y in dots.get_offsets()}
    assert points == {(1, 3.0), (2, 1.0)}, "trials 1 and 2, where `search trials` and MLflow show them"
