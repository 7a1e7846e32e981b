"""Real tables: regression, strings and blanks, every family on both tasks, and the notebook API (#16)."""

import dataclasses
import io
import os
import re
import signal
import threading
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from support import QUICK, all_runs, experiment_runs

from models import DataShape
from search.data import load_dataset
from search.evaluation import Scoring, smallest_fold
from search.plugins import registered_models
from search.tasks import infer_task


def _predictions(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


# -- the rules: task and column roles ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "classification"),
        (["a", "b", "a", "c"], "classification"),
        ([True, False, True, True], "classification"),
        ([1.5, 2.0, 3.0, 4.0], "regression"),
        (list(range(30)), "regression"),  # more whole values than classes: a quantity
        ([1.0, 2.0, 1.0, 3.0], "classification"),  # whole numbers, few: labels
    ],
)
def test_the_task_is_told_from_the_target_by_the_documented_rule(values, task):
    assert infer_task(pd.Series(values)) == task


def test_ids_and_constants_are_left_out_and_said_so(tmp_path):
    rows = ["id,name,constant,colour,size,label"] + [
        f"{i + 1},user{i},7,{['red', 'blue', ''][i % 3]},{i % 5 or ''},{i % 2}" for i in range(40)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(str(tmp_path / "t.csv"), target="label")
    assert data.columns.numeric == ("size",) and data.columns.categorical == ("colour",)
    assert set(data.columns.dropped) == {"id", "name", "constant"}
    assert "column 'id' is left out: an ID (unique per row)" in data.notes
    assert "column 'constant' is left out: constant" in data.notes
    assert data.feature_names == ("id", "name", "constant", "colour", "size"), "a raw row still has every column"


# -- every family, both tasks -------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["penguins", "diabetes"])
def test_every_family_fits_and_predicts_raw_rows_on_both_tasks(dataset):
    data = load_dataset(dataset)
    scoring = Scoring().for_task(data.task)
    shape = DataShape(smallest_fold(data, scoring), data.n_features)
    families = registered_models()
    assert {"knn", "random-forest", "linear", "svm", "hist-gradient-boosting"} <= set(families)
    raw = data.X_test.head(5)
    for name, family in families.items():
        spec = family.for_task(data.task, shape)
        model = spec.build(spec.resolve(), seed=0, columns=data.columns).fit(data.X_train, data.y_train)
        predictions = model.predict(raw)
        assert len(predictions) == 5, name
        if data.task == "classification":
            assert set(predictions) <= set(data.y_train), name
            assert scoring.score(model, data.X_test, data.y_test) > 0.8, name
        else:
            assert np.isfinite(predictions.astype(float)).all(), name
            assert scoring.score(model, data.X_test, data.y_test) < data.y_test.std() * 1.2, name


def test_penguins_has_strings_and_blanks_as_shipped():
    data = load_dataset("penguins")
    assert data.task == "classification" and data.target_name == "species"
    assert {"island", "sex"} <= set(data.columns.categorical)
    assert pd.concat([data.X_train, data.X_test]).isna().any().any(), "blanks, as real tables have"


@pytest.mark.slow  # a whole study with its helper processes
def test_conditional_parameters_are_logged_only_when_active(search_cli, tracking_uri):
    result = search_cli("study", "linear", "svm", "--data", "iris", "--cv", "3", "-n", "24", "--seed", "4",
                        "--sampler", "random", "--pruner", "none", *QUICK)
    assert result.returncode == 0, result
    _, children = experiment_runs(tracking_uri, "linear-svm-iris")
    linear = [r.data.params for r in children if r.data.params["model"] == "linear"]
    svm = [r.data.params for r in children if r.data.params["model"] == "svm"]
    lbfgs = [p for p in linear if p["solver"] == "lbfgs"]
    saga = [p for p in linear if p["solver"] == "saga"]
    assert lbfgs and saga and all("l1_ratio" not in p for p in lbfgs) and all("l1_ratio" in p for p in saga)
    assert all("alpha" not in p for p in linear), "the regression penalty is not a classifier's parameter"
    by_kernel = {kernel: [p for p in svm if p["kernel"] == kernel] for kernel in ("linear", "rbf", "poly")}
    assert all(by_kernel.values()), "the seed draws every kernel"
    assert all("gamma" not in p and "degree" not in p for p in by_kernel["linear"])
    assert all("gamma" in p and "degree" not in p for p in by_kernel["rbf"])
    assert all({"gamma", "degree", "coef0"} <= set(p) for p in by_kernel["poly"])
    assert all("epsilon" not in p for p in svm), "SVR's epsilon is not SVC's"


# -- regression, end to end ---------------------------------------------------------------------------


@pytest.mark.slow  # a whole study with its helper processes
def test_a_regression_study_minimises_rmse_and_registers_and_predicts(search_cli, tracking_uri, workdir):
    result = search_cli("study", "knn", "linear", "--data", "diabetes", "--cv", "3", "-n", "6", "--seed", "1",
                        "--no-figures", "--register", "diabetes-model")
    assert result.returncode == 0, result
    assert "on diabetes (regression), minimising cv_rmse (3-fold)" in result.stdout
    assert "Best: trial" in result.stdout and "test_rmse = " in result.stdout
    study = optuna.load_study(study_name="knn-linear-diabetes", storage=f"sqlite:///{workdir / 'optuna.db'}")
    assert study.direction.name == "MINIMIZE" and study.best_value > 0, "RMSE itself, lower is better"
    _, children = experiment_runs(tracking_uri, "knn-linear-diabetes")
    assert len(children) == 6 and all(c.data.metrics["cv_rmse"] > 0 for c in children)
    assert all("cv_rmse_std" in c.data.metrics and "cv_accuracy" not in c.data.metrics for c in children)

    from mlflow import MlflowClient

    version = MlflowClient(tracking_uri).get_model_version_by_alias("diabetes-model", "champion")
    assert version.tags["metric"] == "cv_rmse" and version.tags["direction"] == "minimize"
    assert float(version.tags["cv_score"]) == pytest.approx(study.best_value)

    load_dataset("diabetes").X_test.head(4).to_csv(workdir / "rows.csv", index=False)
    predicted = search_cli("predict", "models:/diabetes-model@champion", "--data", str(workdir / "rows.csv"))
    assert predicted.returncode == 0, predicted
    table = _predictions(predicted.stdout)
    assert list(table.columns) == ["prediction"], "a regression prediction has no probabilities"
    assert len(table) == 4 and table["prediction"].between(0, 400).all()


def test_the_champion_of_an_error_metric_moves_only_to_a_lower_error(search_cli, tracking_uri):
    from mlflow import MlflowClient

    common = ("--data", "diabetes", "--cv", "3", "--register", "d", "--seed", "0")
    for neighbours in ("1", "15", "2"):  # worse, better, worse
        result = search_cli("run", "knn", "--n-neighbors", neighbours, *common)
        assert result.returncode == 0, result
    client = MlflowClient(tracking_uri)
    assert str(client.get_model_version_by_alias("d", "champion").version) == "2", "15 neighbours: the lowest RMSE"
    assert "champion unchanged: version 2 scored at least as well (cv_rmse" in result.stdout


def test_a_regression_study_refuses_a_classification_metric_in_one_line(search_cli, workdir):
    result = search_cli("study", "knn", "--data", "diabetes", "--metric", "accuracy")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "metric 'accuracy' scores classification, and diabetes is a regression problem" in result.stderr
    assert not list(workdir.iterdir()), "nothing is created"


def test_task_option_overrides_the_rule(search_cli, tracking_uri):
    result = search_cli("run", "knn", "--data", "iris", "--task", "regression", "--cv", "3", "--no-log-model")
    assert result.returncode == 0, result
    assert "cv_rmse = " in result.stdout, "iris's classes 0, 1, 2 taken as a quantity"


# -- a real CSV: strings, blanks, a boolean, a numeric target -------------------------------------------


def _mixed_csv(path):
    rng = np.random.default_rng(0)
    rows = 120
    colour = rng.choice(["red", "green", "blue", None], rows)
    size = rng.normal(10, 3, rows).round(2)
    size[rng.random(rows) < 0.1] = np.nan
    member = rng.choice([True, False, None], rows)
    price = 5 * (colour == "red") + 0.8 * np.nan_to_num(size, nan=10) + 3 * (member == True) + rng.normal(0, 1, rows)  # noqa: E712
    frame = pd.DataFrame({"customer": [f"c{i:04d}" for i in range(rows)], "colour": colour, "size": size,
                          "member": member, "price": price.round(2)})
    frame.to_csv(path, index=False)
    return frame


@pytest.mark.slow  # a whole study with its helper processes
def test_a_mixed_csv_study_registers_a_champion_that_predicts_raw_rows(search_cli, tracking_uri, workdir):
    frame = _mixed_csv(workdir / "shop.csv")
    result = search_cli("study", "all", "--data", "shop.csv", "--target", "price", "--cv", "3", "-n", "10",
                        "--seed", "2", "--no-figures", "--register", "shop")
    assert result.returncode == 0, result
    assert "(regression), minimising cv_rmse" in result.stdout
    assert "note: column 'customer' is left out: an ID (unique per row)" in result.stdout
    study = optuna.load_study(study_name="all-shop", storage=f"sqlite:///{workdir / 'optuna.db'}")
    assert not [t.number for t in study.trials if t.state.name == "FAIL"], "every family takes the table as it is"
    assert len({t.params["model"] for t in study.trials}) >= 3

    raw = frame.drop(columns=["price"]).head(6)
    raw.loc[0, "colour"] = None
    raw.loc[1, "size"] = None
    raw.to_csv(workdir / "raw.csv", index=False)
    assert raw.isna().any().any() and (raw["colour"] == "red").any(), "strings and blanks, as in the file"
    predicted = search_cli("predict", "models:/shop@champion", "--data", "raw.csv")
    assert predicted.returncode == 0, predicted
    table = _predictions(predicted.stdout)
    assert len(table) == 6 and table["prediction"].notna().all()


@pytest.mark.slow  # a whole study with its helper processes
def test_the_cml_model_answers_records_with_strings_and_blanks(search_cli, tracking_uri, workdir, monkeypatch):
    import importlib.util

    from support import copy_project

    frame = _mixed_csv(workdir / "shop.csv")
    project = copy_project(workdir / "project")
    result = search_cli("study", "random-forest", "--data", str(workdir / "shop.csv"), "--target", "price",
                        "--cv", "3", "-n", "3", "--no-figures", "--register", "shop-model",
                        "--tracking-uri", f"sqlite:///{project / 'mlflow.db'}")
    assert result.returncode == 0, result
    monkeypatch.setenv("SEARCH_REGISTER", "shop-model")
    monkeypatch.delenv("SEARCH_TRACKING_URI", raising=False)
    spec = importlib.util.spec_from_file_location("cml_predict_under_test", project / "cml" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    records = frame.drop(columns=["price"]).head(3).replace({np.nan: None}).to_dict("records")
    records[0]["colour"], records[1]["member"] = None, None
    answer = module.predict({"records": records})
    assert "error" not in answer, answer
    assert len(answer["predictions"]) == 3 and "probabilities" not in answer, "a regression answer"
    assert answer["model"] == "shop-model version 1 (champion)"
    bad = module.predict({"records": [{**records[0], "size": "large"}]})
    assert bad == {"error": "the request has text in the numeric column 'size'"}


# -- the notebook API ---------------------------------------------------------------------------------


@pytest.mark.slow  # a whole study with its helper processes
def test_tune_runs_a_regression_study_from_a_dataframe(workdir, tracking_uri):
    from sklearn.datasets import load_diabetes

    import search

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    result = search.tune(X, y, models=["linear"], n_trials=4, cv=3, seed=5, register="nb-diabetes",
                         figures=False, progress=False, tracking_uri=tracking_uri)
    assert result.metric == "cv_rmse" and result.best_model_name == "linear"
    assert set(result.best_params) == {"alpha", "l1_ratio"}
    assert result.best_score == pytest.approx(result.study.best_value) and result.best_score > 0
    assert result.test_score is not None and result.test_score > 0
    assert result.registration is not None and result.registration.champion == "1"
    shown = repr(result)  # what a notebook cell ending in `result` shows
    assert f"cv_rmse={result.best_score:.4f}" in shown and "champion: version 1" in shown
    assert len(shown) < 1000 and "bmi" not in shown, "the findings, never the data"
    predictions = result.best_model.predict(X.head(3))
    assert predictions.shape == (3,)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.params["task"] == "regression"
    assert len(all_runs(tracking_uri, result.study.study_name)) == 5, "the study run and one run per trial"
    again = search.tune(X, y, models=["linear"], n_trials=2, cv=3, figures=False, progress=False,
                        tracking_uri=tracking_uri)
    assert len(again.study.trials) == 6 and again.run_id == result.run_id, "the same data resumes the study"


@pytest.mark.slow  # a whole study with its helper processes
def test_tune_takes_a_frame_and_its_target_column_and_numpy_arrays(workdir, tracking_uri):
    import logging

    from palmerpenguins import load_penguins

    import search

    def mlflows() -> dict:  # the variables MLflow reads (joblib's import sets OpenMP's: its doing, not ours)
        return {name: value for name, value in os.environ.items() if name.startswith("MLFLOW_")}

    penguins = load_penguins()
    format_before = warnings.formatwarning
    environment, levels = mlflows(), {name: logging.getLogger(name).level for name in ("mlflow", "urllib3")}
    result = search.tune(penguins, target="species", models=["knn"], n_trials=2, cv=3, log_model=False,
                         figures=False, progress=False, tracking_uri=tracking_uri)
    assert mlflows() == environment, "the caller's environment as it was"
    assert warnings.formatwarning is format_before, "the caller's warning format as it was"
    assert {name: logging.getLogger(name).level for name in ("mlflow", "urllib3")} == levels
    assert result.metric == "cv_accuracy" and result.best_score > 0.8
    assert set(result.best_model.predict(penguins.drop(columns="species").head(4))) <= set(penguins["species"])
    assert result.best_model is result.best_model and "best_model=" in repr(result), "fitted once, when first used"
    data = result._outcome.plan.data
    assert result.best_model[-1].n_samples_fit_ == data.n_samples, "fitted as the logged model is: on every row"
    assert result.best_trial.number == result.study.best_trial.number and result.best_score == result.best_trial.value
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.best_score = 1.0  # type: ignore[misc]
    X, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 2
    assert search.tune(X, y, models=["knn"], n_trials=1, cv=3, log_model=False, figures=False, progress=False,
                       tracking_uri=tracking_uri).study.trials
    with pytest.raises(search.errors.InputError, match="give the target"):
        search.tune(penguins, models=["knn"])
    with pytest.raises(search.errors.InputError, match="--task must be one of classification, regression"):
        search.tune(X, y, task="regresion")
    with pytest.raises(search.errors.InputError, match="--sampler must be one of tpe, random"):
        search.tune(X, y, sampler="bogus")


@pytest.mark.slow  # a whole study with its helper processes
def test_ctrl_c_in_a_notebook_raises_keyboard_interrupt_after_saving_the_trials(workdir, tracking_uri):
    from sklearn.datasets import make_classification

    import search

    X, y = make_classification(n_samples=600, n_features=20, random_state=0)
    storage = f"sqlite:///{workdir / 'optuna.db'}"

    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)

    def interrupt_after_two_trials() -> None:  # as Jupyter's "interrupt kernel" does: SIGINT to the kernel
        import sqlite3

        while not stop.wait(0.05):
            try:  # read-only: a reader must not race the study's own creation of the tables
                with sqlite3.connect(f"file:{workdir / 'optuna.db'}?mode=ro", uri=True) as db:
                    done = db.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            except sqlite3.Error:  # not created yet
                continue
            if done >= 2:
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=interrupt_after_two_trials, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="every finished trial is saved"):
            search.tune(X, y, models=["random-forest"], n_trials=500, study_name="nb", storage=storage,
                        tracking_uri=tracking_uri, figures=False, progress=False)
    finally:
        stop.set()
        watcher.join(timeout=5)
    trials = optuna.load_study(study_name="nb", storage=storage).trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    finished = [t for t in trials if t.state.is_finished()]
    assert len(finished) >= 2
    parents, children = experiment_runs(tracking_uri, "nb")
    assert parents[0].info.status == "KILLED"
    assert sorted(int(c.data.tags["number"]) for c in children) == sorted(t.number for t in finished)
    assert signal.getsignal(signal.SIGINT) == before, "the kernel's own handler is back"


@pytest.mark.slow
def test_a_script_calling_tune_without_a_main_guard_runs_its_study_once(workdir):
    import subprocess
    import sys

    (workdir / "script.py").write_text(  # a thread running, as in a Jupyter kernel: helpers are spawned
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
        "import search\n"
        "from sklearn.datasets import load_iris\n"
        "X, y = load_iris(return_X_y=True, as_frame=True)\n"
        "result = search.tune(X, y, models=['knn'], n_trials=3, cv=3, progress=False)\n"
        "print('RESULT', result.best_score)\n"
    )
    done = subprocess.run([sys.executable, "script.py"], cwd=workdir, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, "helper processes never run the user's script again"
    assert done.stdout.count("Study 'knn-dataframe_") == 1 and done.stdout.count("RESULT ") == 1
    assert "Creating initial MLflow database tables" not in done.stderr, "MLflow's own lines stay quiet"


X_SMALL, Y_SMALL = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 2


@pytest.mark.parametrize(("arguments", "fragment"), [
    ({"n_trials": "5"}, "--n-trials must be a whole number, got '5'"),
    ({"n_trials": 1.5}, "--n-trials must be a whole number, got 1.5"),
    ({"n_trials": True}, "--n-trials must be a whole number, got True"),
    ({"timeout": "abc"}, "--timeout must be a number of seconds, got 'abc'"),
    ({"trial_timeout": 0}, "--trial-timeout must be positive, got 0"),
    ({"cv": "5"}, "--cv must be a whole number of folds, got '5'"),
    ({"models": "knm"}, "unknown model 'knm'"),  # one name as a string, not the letters 'k', 'n', 'm'
])
def test_tune_refuses_a_bad_argument_in_one_line_and_creates_nothing(workdir, arguments, fragment):
    import search

    with pytest.raises(search.errors.InputError) as refused:
        search.tune(X_SMALL, Y_SMALL, **{"models": ["knn"], "progress": False, **arguments})
    assert fragment in str(refused.value) and "\n" not in str(refused.value)
    assert list(workdir.iterdir()) == [], "nothing created"


@pytest.mark.parametrize(("features", "fragment"), [
    (None, "X is None: give the features as a DataFrame or an array"),
    ("data.csv", "X is a path: give the features as a DataFrame or an array (read a CSV file with"),
])
def test_tune_says_what_x_must_be(workdir, features, fragment):
    import search

    with pytest.raises(search.errors.InputError, match=re.escape(fragment)):
        search.tune(features, target="y")
    assert list(workdir.iterdir()) == []


@pytest.mark.slow  # a whole study
def test_tune_takes_a_frame_whose_column_names_are_numbers_or_pairs(workdir, tracking_uri):
    import search

    frame = pd.DataFrame(X_SMALL)
    frame[99] = Y_SMALL
    result = search.tune(frame, target=99, models=["knn"], n_trials=2, cv=3, figures=False, progress=False,
                         log_model=False, tracking_uri=tracking_uri)
    assert [t.state.name for t in result.study.trials] == ["COMPLETE", "COMPLETE"]
    pairs = frame.set_axis(pd.MultiIndex.from_tuples([("x", "a"), ("x", "b"), ("y", "c"), ("label", "")]), axis=1)
    result = search.tune(pairs, target=("label", ""), models=["knn"], n_trials=1, cv=3, figures=False,
                         progress=False, log_model=False, tracking_uri=tracking_uri)
    assert [t.state.name for t in result.study.trials] == ["COMPLETE"]


def test_a_notebooks_warning_is_one_line_and_its_format_is_given_back():
    from search.text import warnings_as_lines_within

    before = warnings.formatwarning
    with warnings_as_lines_within("search.tune"):
        line = warnings.formatwarning(UserWarning("max_iter was\n reached"), UserWarning, "/x/sklearn/_base.py", 3)
    assert line == "search.tune: warning: max_iter was reached\n", "no file and line of scikit-learn's"
    assert warnings.formatwarning is before
