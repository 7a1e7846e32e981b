"""Bad input: one line on stderr, a non-zero exit (2 for usage errors), never a traceback."""

import os

import optuna
import pytest
from support import QUICK, free_port, require_system


def _one_line_error(result, code, fragment):
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


KNOWN = "hist-gradient-boosting, knn, linear, random-forest, svm"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["study", "lasso"], f"unknown model 'lasso'; known models: {KNOWN}"),
        (["run", "lasso"], f"unknown model 'lasso'; known models: {KNOWN}"),
        (["run", "knn", "--n-neighbors", "0"], "n_neighbors must be an integer >= 1, got '0'"),
        (["run", "knn", "--n-neighbors", "three"], "n_neighbors must be an integer >= 1"),
        (["run", "rf", "--criterion", "purity"], "criterion must be one of gini, entropy, log_loss"),
        (["run", "knn", "--leaf-size", "3"], "No such option: --leaf-size"),
        (["study", "knn", "--n-trials", "0"], "--n-trials must be at least 1"),
        (["study", "knn", "--sampler", "anneal"], "Invalid value for '--sampler': 'anneal' is not one"),
        (["study", "knn", "--pruner", "early"], "Invalid value for '--pruner': 'early' is not one"),
        (["study", "knn", "--metric", "accuracyy"], "unknown metric 'accuracyy'"),
        (["study", "knn", "--storage", "not a url"], "malformed storage URL"),
        (["study", "knn", "--storage", "mongodb://u:hunter2@h/db"], "unsupported storage URL scheme"),
        (["study", "knn", "--data", "missing.csv", "--target", "y"], "cannot read data file 'missing.csv'"),
        (["run", "knn", "--data", "nope"], "not a bundled dataset"),
        (["best", "nothing-here"], "optuna.db: run a study first"),
        (["trials", "x", "--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table'"),
        (["run", "knn", "--cv", "1"], "--cv must be at least 2 folds"),
        (["run", "knn", "--data", "iris", "--cv", "40"], "class '1' has 37 (try --cv 37)"),
        (["run", "knn", "--n-neighbors", "900"], "cannot evaluate knn on synthetic"),
        (["ui", "--port", "70000"], "Invalid value for '--port'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(search_cli, args, fragment):
    result = search_cli(*args)
    _one_line_error(result, 2, fragment)
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["run", "knn"], ["study", "knn", "--n-trials", "2"]])
def test_unreachable_tracking_server_is_one_line_and_nothing_is_trained(search_cli, workdir, command):
    uri = f"http://user:s3cret@127.0.0.1:{free_port()}"
    result = search_cli(*command, "--tracking-uri", uri)
    # An environment the user must fix, like bad input: exit code 2 (issue #18, row 8).
    _one_line_error(result, 2, "cannot reach MLflow tracking server http://user:***@127.0.0.1")
    assert "s3cret" not in result.stderr + result.stdout


def test_unreadable_data_file(search_cli, workdir):
    path = workdir / "data.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    _one_line_error(search_cli("run", "knn", "--data", str(path), "--target", "y"), 2, "data file")


def test_unreachable_postgres_storage_masks_the_password(search_cli):
    result = search_cli("study", "knn", "--storage", f"postgresql://u:pa55word@127.0.0.1:{free_port()}/db")
    _one_line_error(result, 2, "cannot open Optuna storage postgresql://u:***@127.0.0.1")
    assert "pa55word" not in result.stderr + result.stdout


def test_help_does_not_import_heavy_libraries(workdir):
    import subprocess
    import sys

    code = (
        "import sys\nfrom search.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'optuna', 'sklearn', 'pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    for args in ([], ["run", "knn", "--help"]):
        program = code.replace("['--help']", repr([*args, "--help"]) if args else "['--help']")
        out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=workdir).stdout
        assert "HEAVY []" in out, out


@pytest.mark.parametrize("args", [
    ["predict", "models:/m@champion", "--data", "nothere.csv"],
    ["predict", "models:/m@champion", "--data", "{rows}", "--output", "no/such/dir/out.csv"],
    ["study", "knn", "--storage", "no/such/dir/x.journal"],
    ["sync", "nosuch", "--storage", "sqlite:///{study}"],
    ["best", "nosuch", "--storage", "sqlite:///{study}"],
])
def test_a_refusal_comes_before_mlflow_or_scikit_learn_is_imported(workdir, args):
    """A bad path is refused at once, not after the seconds MLflow and scikit-learn take to import."""
    import subprocess
    import sys

    rows = _csv(workdir / "rows.csv", ["a,b", "1,2"])
    study = workdir / "optuna.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{study}")  # a storage without the study asked for
    program = (
        "import sys\nfrom search.cli import main\ntry:\n    main(ARGS)\nexcept SystemExit as done:\n"
        "    print('EXIT', done.code)\n"
        "print('HEAVY', [m for m in ('mlflow', 'sklearn') if m in sys.modules])"
    ).replace("ARGS", repr([a.format(rows=rows, study=study) for a in args]))
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=workdir)
    assert "EXIT 2" in out.stdout and "HEAVY []" in out.stdout, (out.stdout, out.stderr)


def _files(folder):
    """Every file under ``folder`` with its size and modification time: what 'nothing was written' compares."""
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _csv(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--metric", "roc_auc", "--data", "digits"], "metric 'roc_auc' cannot score digits"),
        (["--cv", "1000"], "--cv 1000 needs at least 1000 samples of every class"),
        (["--data", "iris", "--target", "species"], "--target names a CSV file's label column"),
        (["--seed", "-1"], "--seed must be between 0 and 4294967295, got -1"),
        (["--study-name", "s" * 5000], "--study-name is 5000 characters long; MLflow keeps at most 250"),
        (["--data", "{one_class}", "--target", "y"], "has only one class"),
        (["--data", "{quantity}", "--target", "y", "--task", "classification"],
         "is it a quantity? then --task regression"),
        (["--data", "{infinite}", "--target", "y"], "has infinite values"),
        (["--data", "{labels}"], "for a CSV file, name its target column with --target"),
        (["--storage", "sqlite:///same.db", "--tracking-uri", "sqlite:///same.db"], "are the same file"),
        (["--storage", "sqlite:///{garbage}"], "cannot use {garbage} as the Optuna storage: file is not a database"),
        (["--storage", "sqlite:///{mlflow_db}"], "is an MLflow tracking store, not the Optuna storage"),
        (["--experiment", " "], "--experiment must not be blank"),
        (["--timeout", "nan"], "--timeout must be positive, got nan"),
        (["--split-seed", "5000000000"], "--split-seed must be between 0 and 4294967295, got 5000000000"),
        (["--data", "{dupes}", "--target", "label"], "has the column name 'x0' more than once"),
        (["--data", "{folder}", "--target", "y"], "is a folder, not a CSV file"),
        (["--data", "/dev/zero", "--target", "y"], "'/dev/zero' is a device, not a CSV file"),
        (["--data", "{fifo}", "--target", "y"], "is a named pipe (FIFO), not a CSV file"),
        (["--study-name", "two\nlines"], "holds the control character '\\n'"),
        (["--study-name", "   "], "--study-name must not be blank"),
        (["--metric", "neg_mean_squared_error"], "metric 'neg_mean_squared_error' scores regression"),
        (["--workers", "1000"], "--workers 1000 is more than this machine's"),
        (["--data", "{booleans}", "--target", "y", "--task", "regression"],
         "'y' holds true/false values, not a quantity: a regression needs numbers"),
        (["--tracking-uri", "sqlite:///{no_such_dir}/m.db"],
         "cannot create the MLflow tracking store {no_such_dir}/m.db: no such directory {no_such_dir}"),
        (["--storage", "{no_such_dir}/x.journal"], "cannot create the Optuna storage {no_such_dir}/x.journal: "
         "no such directory {no_such_dir}"),
    ],
)
def test_a_study_input_error_is_one_line_and_creates_nothing(search_cli, workdir, migrated_mlflow_db, args, fragment):
    import shutil

    files = {
        "one_class": _csv(workdir / "one.csv", ["a,y"] + [f"{i},1" for i in range(20)]),
        "quantity": _csv(workdir / "quantity.csv", ["a,y"] + [f"{i},{i + 0.5}" for i in range(20)]),
        "infinite": _csv(workdir / "inf.csv", ["a,y", "inf,0", "1,1", "2,0", "3,1"]),
        "labels": _csv(workdir / "labels.csv", ["a,label", "1,0", "2,1"]),
        "garbage": str(workdir / "garbage.db"),
        "mlflow_db": str(workdir / "other-mlflow.db"),
        "dupes": _csv(workdir / "dupes.csv", ["x0,x0,x1,label"] + [f"{i},{i},{i},{i % 2}" for i in range(20)]),
        "folder": str(workdir / "a-folder"),
        "fifo": str(workdir / "a-fifo"),
        "no_such_dir": str(workdir / "no" / "such-dir"),
        "booleans": _csv(workdir / "booleans.csv", ["a,y"] + [f"{i},{i % 3 == 0}" for i in range(30)]),
    }
    (workdir / "a-folder").mkdir()
    os.mkfifo(workdir / "a-fifo")
    (workdir / "garbage.db").write_bytes(b"not a database at all" * 10)
    shutil.copyfile(migrated_mlflow_db, workdir / "other-mlflow.db")
    before = _files(workdir)
    result = search_cli("study", "knn", "--n-trials", "1", *(a.format(**files) for a in args))
    _one_line_error(result, 2, fragment.format(**files))
    assert result.stdout == "", "no start line for a study that cannot run"
    assert _files(workdir) == before, "nothing created or written in either store"


def test_an_unknown_model_gets_the_closest_name(search_cli):
    _one_line_error(search_cli("study", "knm"), 2, "unknown model 'knm'; did you mean 'knn'? known models:")
    _one_line_error(search_cli("run", "randomforest2"), 2, "did you mean 'random-forest'?")


@pytest.mark.slow  # a whole study with its helper processes
def test_a_failed_first_attempt_does_not_lock_the_study_name(search_cli, workdir):
    # 200 rows: every fold fits on 120, more than kNN's largest n_neighbors (50), so no trial can fail.
    data = _csv(workdir / "my.csv", ["a,b,label"] + [f"{i},{i % 7},{i % 2}" for i in range(200)])
    forgot = search_cli("study", "knn", "--data", data, "--n-trials", "1", *QUICK)
    assert forgot.returncode == 2 and not (workdir / "optuna.db").exists() and not (workdir / "mlflow.db").exists()
    fixed = search_cli("study", "knn", "--data", data, "--target", "label", "--n-trials", "2", *QUICK)
    assert fixed.returncode == 0, fixed
    assert "Study 'knn-my'" in fixed.stdout and "Ran 2 trials." in fixed.stdout


@pytest.mark.slow  # a whole study with its helper processes
def test_a_study_without_trials_is_made_again_with_new_settings(search_cli, storage):
    import optuna

    study = optuna.create_study(study_name="knn", storage=storage, direction="maximize")
    study.set_user_attr("settings", {"models": "knn", "data": "iris", "metric": "f1_macro", "cv": 3})
    result = search_cli("study", "knn", "--n-trials", "2", *QUICK)
    assert result.returncode == 0, result
    study = optuna.load_study(study_name="knn", storage=storage)
    assert study.user_attrs["settings"]["data"] == "synthetic" and len(study.trials) == 2


def test_resuming_a_study_that_has_trials_with_other_data_is_refused_before_anything(search_cli, workdir):
    assert search_cli("study", "knn", "--n-trials", "1", *QUICK).returncode == 0
    before = _files(workdir)
    result = search_cli("study", "knn", "--n-trials", "1", "--study-name", "knn", "--data", "iris", *QUICK)
    _one_line_error(result, 2, "study 'knn' was run with data=synthetic, not iris")
    assert _files(workdir) == before


def test_run_refuses_a_negative_seed(search_cli):
    _one_line_error(search_cli("run", "knn", "--seed", "-1"), 2, "--seed must be between 0 and 4294967295")


@pytest.mark.slow  # a whole study with its helper processes
def test_a_read_only_storage_file_is_refused_in_one_line_before_anything(search_cli, workdir):
    import subprocess

    assert search_cli("study", "knn", "--n-trials", "1", *QUICK).returncode == 0
    locked = subprocess.run(["chattr", "+i", str(workdir / "optuna.db")], capture_output=True)
    require_system(locked.returncode == 0, "chattr +i (an immutable file, which even root cannot write)")
    try:
        before = _files(workdir)
        result = search_cli("study", "knn", "--n-trials", "1", *QUICK)
        _one_line_error(result, 2, "as the Optuna storage: attempt to write a readonly database")
        assert _files(workdir) == before
    finally:
        subprocess.run(["chattr", "-i", str(workdir / "optuna.db")], check=True)


@pytest.mark.slow  # a whole study with its helper processes
def test_knn_on_a_40_row_csv_spends_no_trial_on_more_neighbours_than_rows(search_cli, workdir):
    # 40 rows: 30 train, so each of the 5 folds fits on 24. kNN declares n_neighbors 1..50; drawn above 24,
    # half the trials failed (or, on scikit-learn's fast path, scored without a word).
    data = _csv(workdir / "small.csv", ["a,b,label"] + [f"{i},{i % 7},{i % 2}" for i in range(40)])
    result = search_cli("study", "knn", "--data", data, "--target", "label", "--n-trials", "10", "--seed", "14",
                        "--no-figures")
    assert result.returncode == 0, result
    assert "note: knn searches n_neighbors 1..24 (declared 1..50) to fit the data" in result.stdout
    import optuna

    trials = optuna.load_study(study_name="knn-small", storage=f"sqlite:///{workdir / 'optuna.db'}").trials
    assert len(trials) == 10 and not [t.number for t in trials if t.state.name == "FAIL"]
    assert max(t.params["n_neighbors"] for t in trials) <= 24
    assert "Best model: trial" in result.stdout

    single = search_cli("run", "knn", "--n-neighbors", "40", "--data", data, "--target", "label",
                        "--experiment", "small-runs")
    _one_line_error(single, 2, "cannot evaluate knn on")
    assert "n_neighbors=40 is more than the 24 rows it is fitted on in 5-fold CV" in single.stderr


def test_reading_commands_on_a_missing_study_create_nothing(search_cli, workdir):
    _csv(workdir / "x.csv", ["a,b", "1,2"])  # the rows are checked first: here they are fine
    for args, code, fragment in [  # a store that is not there is the user's environment: exit code 2
        (["sync", "nostudy"], 2, "no Optuna storage"),
        (["predict", "nostudy", "--data", "x.csv"], 2, "no MLflow tracking store at"),
        (["predict", "models:/m@champion", "--data", "x.csv", "--tracking-uri", "sqlite:///other.db"], 2,
         "no MLflow tracking store at"),
    ]:
        _one_line_error(search_cli(*args), code, fragment)
    assert [p.name for p in workdir.iterdir()] == ["x.csv"], "no store is created by a command that only reads"


def test_trials_of_a_study_whose_only_trial_waits(search_cli, workdir):
    import optuna

    study = optuna.create_study(study_name="queued", storage=f"sqlite:///{workdir / 'optuna.db'}")
    study.enqueue_trial({"x": 1})
    result = search_cli("trials", "queued")
    assert result.returncode == 0, result
    assert "WAITING" in result.stdout


@pytest.mark.slow  # a whole study with its helper processes
def test_output_paths_that_cannot_be_written_are_one_line(search_cli, workdir, tracking_uri):
    assert search_cli("study", "knn", "--n-trials", "2", "--seed", "1", "--no-progress").returncode == 0
    (workdir / "taken").write_text("a file, not a folder")
    _one_line_error(search_cli("plot", "knn", "--output", str(workdir / "taken")), 2, "cannot write figures into")
    rows = _csv(workdir / "rows.csv", [",".join(f"x{i}" for i in range(20)), ",".join(["0.1"] * 20)])
    _one_line_error(search_cli("predict", "knn", "--data", rows, "--output", str(workdir / "no" / "out.csv")), 2,
                    "cannot write")


def test_sync_keeps_to_no_log_model(search_cli, workdir, tracking_uri):
    assert search_cli("study", "knn", "--n-trials", "2", "--no-progress", *QUICK).returncode == 0
    result = search_cli("sync", "knn")
    assert result.returncode == 0, result
    assert "Best model" not in result.stdout, "sync refits nothing the study was told not to log"


def test_sync_against_a_store_the_study_never_used_is_refused_and_moves_nothing(search_cli, workdir, tracking_uri):
    import optuna

    assert search_cli("study", "knn", "--n-trials", "1", "--no-progress", *QUICK).returncode == 0
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    link = optuna.load_study(study_name="knn", storage=storage).user_attrs["mlflow_study_run_id"]
    before = _files(workdir)
    for typo in ("sqlite:///mlfow.db", f"sqlite:///{workdir / 'other.db'}"):
        result = search_cli("sync", "knn", "--tracking-uri", typo)
        _one_line_error(result, 2, f"study 'knn' logs to sqlite:///{workdir / 'mlflow.db'}, not ")
    assert _files(workdir) == before, "no store made, nothing written"
    assert optuna.load_study(study_name="knn", storage=storage).user_attrs["mlflow_study_run_id"] == link


@pytest.mark.slow  # a whole study with its helper processes
def test_a_csv_study_resumes_named_from_another_directory(search_cli, workdir, monkeypatch):
    (workdir / "sub").mkdir()
    data = _csv(workdir / "my.csv", ["a,b,label"] + [f"{i},{i % 7},{i % 2}" for i in range(200)])
    first = search_cli("study", "knn", "--data", "my.csv", "--target", "label", "-n", "1", "--no-progress",
                       *QUICK, "--storage", f"sqlite:///{workdir / 'optuna.db'}",
                       "--tracking-uri", f"sqlite:///{workdir / 'mlflow.db'}")
    assert first.returncode == 0, first
    monkeypatch.chdir(workdir / "sub")
    again = search_cli("study", "knn", "--data", "../my.csv", "--target", "label", "-n", "1", "--no-progress",
                       *QUICK, "--storage", f"sqlite:///{workdir / 'optuna.db'}",
                       "--tracking-uri", f"sqlite:///{workdir / 'mlflow.db'}")
    assert again.returncode == 0, again
    assert "Resumed: the study already had 1 trial; added 1." in again.stdout
    assert data



@pytest.mark.parametrize("password", ["hunt/er2", "s3cret"])
def test_a_password_holding_a_slash_is_masked_too(search_cli, workdir, password):
    result = search_cli("best", "x", "--storage", f"postgresql://u:{password}@127.0.0.1:1/db")
    _one_line_error(result, 2, "cannot open Optuna storage postgresql://u:***@127.0.0.1:1/db")
    assert password not in result.stderr + result.stdout
    assert "Connection refused" in result.stderr, "the driver's reason, not Optuna's wrapper"


def test_the_ui_on_a_store_that_does_not_exist_is_refused_and_makes_none(search_cli, workdir):
    result = search_cli("ui", "--tracking-uri", "sqlite:///nosuch.db")
    _one_line_error(result, 2, f"no MLflow tracking store at {workdir / 'nosuch.db'}: pass the --tracking-uri")
    assert _files(workdir) == {}, "a reading command creates no store"


def test_the_ui_on_a_port_in_use_is_refused_in_one_line_before_it_starts(search_cli, workdir, tracking_uri):
    import socket

    before = _files(workdir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = search_cli("ui", "--port", str(port))
    _one_line_error(result, 2, f"port {port} is in use on 127.0.0.1: pass another --port")
    assert result.stdout == "" and _files(workdir) == before


def test_a_run_into_a_store_in_a_folder_that_does_not_exist_is_refused_and_makes_nothing(search_cli, workdir):
    missing = workdir / "no" / "such-dir"
    result = search_cli("run", "knn", "--tracking-uri", f"sqlite:///{missing}/m.db")
    _one_line_error(result, 2, f"cannot create the MLflow tracking store {missing}/m.db: no such directory {missing}")
    assert _files(workdir) == {} and not (workdir / "no").exists()


def test_a_target_the_csv_does_not_have_is_refused_from_its_header_before_pandas_is_imported(workdir):
    """The commonest mistake with a CSV, a mistyped --target, said at once: the header alone tells."""
    import subprocess
    import sys

    _csv(workdir / "table.csv", ["age,income,churned", "30,1.5,yes", "40,2.5,no"])
    program = ("import sys\nfrom search.cli import main\ntry:\n    main(['study', 'knn', '--data', 'table.csv', "
               "'--target', 'churn'])\nexcept SystemExit as done:\n    print('EXIT', done.code)\n"
               "print('HEAVY', [m for m in ('pandas', 'mlflow', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=workdir)
    assert "EXIT 2" in out.stdout and "HEAVY []" in out.stdout, (out.stdout, out.stderr)
    assert "has no target column 'churn' (columns: age, income, churned)" in out.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["table.csv"], "nothing created"
