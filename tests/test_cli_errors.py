"""Bad input: one line on stderr, a non-zero exit (2 for usage errors), never a traceback."""

import pytest

from conftest import free_port


def _one_line_error(result, code, fragment):
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["study", "lasso"], "unknown model 'lasso'; known models: knn, random-forest"),
        (["run", "lasso"], "unknown model 'lasso'; known models: knn, random-forest"),
        (["run", "knn", "--n-neighbors", "0"], "n_neighbors must be an integer >= 1, got '0'"),
        (["run", "knn", "--n-neighbors", "three"], "n_neighbors must be an integer >= 1"),
        (["run", "rf", "--criterion", "purity"], "criterion must be one of gini, entropy, log_loss"),
        (["run", "knn", "--leaf-size", "3"], "No such option: --leaf-size"),
        (["study", "knn", "--n-trials", "0"], "--n-trials must be at least 1"),
        (["study", "knn", "--sampler", "anneal"], "Invalid value for '--sampler': Value error, 'anneal' is not one"),
        (["study", "knn", "--pruner", "early"], "Invalid value for '--pruner': Value error, 'early' is not one"),
        (["study", "knn", "--metric", "accuracyy"], "unknown metric 'accuracyy'"),
        (["study", "knn", "--storage", "not a url"], "malformed storage URL"),
        (["study", "knn", "--storage", "mongodb://u:hunter2@h/db"], "unsupported storage URL scheme"),
        (["study", "knn", "--data", "missing.csv", "--target", "y"], "cannot read data file 'missing.csv'"),
        (["run", "knn", "--data", "nope"], "not a bundled dataset"),
        (["best", "nothing-here"], "optuna.db: run a study first"),
        (["trials", "x", "--format", "xml"], "Invalid value for '--format': Value error, 'xml' is not one of 'table'"),
        (["run", "knn", "--cv", "1"], "--cv must be at least 2 folds"),
        (["run", "knn", "--data", "iris", "--cv", "40"], "cannot evaluate knn on iris: n_splits=40"),
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
    _one_line_error(result, 1, "cannot reach MLflow tracking server http://user:***@127.0.0.1")
    assert "s3cret" not in result.stderr + result.stdout


def test_unreadable_data_file(search_cli, workdir):
    path = workdir / "data.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    _one_line_error(search_cli("run", "knn", "--data", str(path), "--target", "y"), 2, "data file")


def test_unreachable_postgres_storage_masks_the_password(search_cli):
    result = search_cli("study", "knn", "--storage", f"postgresql://u:pa55word@127.0.0.1:{free_port()}/db")
    _one_line_error(result, 1, "cannot open Optuna storage postgresql://u:***@127.0.0.1")
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
