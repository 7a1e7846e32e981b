"""Trust at the edges, in-process: what a user reads, what a model may run, what a store keeps (issue #18).

Real stores and real signals (sent to this very process), no process started:
the fast checks of the edge behaviours; `test_reliability.py` plays the ones
that need a terminal, a server or a killed process.
"""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from support import QUICK, experiment_runs

from search.interrupts import Interrupted, Interrupts
from search.tracking import MLflowCallback

optuna.logging.set_verbosity(optuna.logging.ERROR)


# -- what a user reads --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["study", "best", "trials", "sync", "predict", "plot", "ui", "models"])
def test_help_reads_like_a_unix_tool(search_cli, command):
    text = search_cli(command, "--help").stdout
    usage = text.splitlines()[0]
    assert "{" not in usage and "<" not in usage, usage
    assert "``" not in text
    arguments = text.split("Arguments:")[1].split("Options:")[0] if "Arguments:" in text else ""
    assert "<" not in arguments, arguments  # 'MODEL...', not Typer's 'MODEL <list[str]>'


def test_a_bad_choice_says_what_is_allowed_without_pydantic_words(search_cli):
    result = search_cli("trials", "x", "--format", "xml")
    assert "Value error" not in result.stderr and "'xml' is not one of 'table', 'json', 'csv'" in result.stderr


def test_search_run_prints_the_seed_it_drew(search_cli, client):
    result = search_cli("run", "knn", "--no-log-model")
    seed = result.stdout.split("; seed ")[1].split()[0]
    run = experiment_runs(client, "knn-runs")[0] or client.search_runs(
        [client.get_experiment_by_name("knn-runs").experiment_id])
    assert run[0].data.params["seed"] == seed


def test_a_new_store_lists_only_the_studies(search_cli, workdir):
    assert search_cli("run", "knn", "--no-log-model").returncode == 0
    names = [e.name for e in MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}").search_experiments()]
    assert names == ["knn-runs"], "no empty Default experiment"


def test_predictions_print_six_significant_digits(search_cli, tracking_uri, workdir):
    assert search_cli("study", "knn", "-n", "2", "--seed", "1", "--no-figures").returncode == 0
    from search.data import DataSpec

    DataSpec().load().features("test").iloc[:5].to_csv(workdir / "rows.csv", index=False)
    printed = search_cli("predict", "knn", "--data", "rows.csv").stdout
    values = [v for line in printed.splitlines()[1:] for v in line.split(",")[1:]]
    assert values and all(len(v.replace("0.", "").lstrip("0")) <= 6 for v in values), printed


@pytest.mark.slow  # a whole study with its helper processes
def test_a_resumed_study_run_lasts_the_time_its_commands_took(search_cli, client):
    started = time.time()
    assert search_cli("study", "knn", "-n", "1", *QUICK).returncode == 0
    time.sleep(3)  # a pause between two commands, which the study's run must not count
    assert search_cli("study", "knn", "-n", "1", *QUICK).returncode == 0
    spanned = time.time() - started
    parent = experiment_runs(client, "knn")[0][0]
    lasted = (parent.info.end_time - parent.info.start_time) / 1000
    assert 0 < lasted < spanned - 2.5, (lasted, spanned)


def test_a_csv_with_a_byte_order_mark_and_thousands_of_columns_loads(tmp_path):
    from search.data import DataSpec

    columns = [f"c{i}" for i in range(5000)]
    rows = [",".join([*columns, "label"])] + [",".join([str((i + j) % 3) for j in range(5000)] + [str(i % 2)])
                                              for i in range(60)]
    (tmp_path / "wide.csv").write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    data = DataSpec(str(tmp_path / "wide.csv"), "label").load()
    assert data.feature_names[0] == "c0" and data.n_features == 5000


# -- what a model may run -----------------------------------------------------------------------------


class Payload:
    """A "model" whose unpickling writes a file: what a malicious model logged with cloudpickle does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))

    def fit(self, X, y):
        return self

    def predict(self, X):
        return [0] * len(X)


@pytest.mark.slow  # a whole study with its helper processes
def test_a_model_that_runs_code_when_loaded_is_refused_unless_the_user_accepts_the_risk(tracking_uri, workdir,
                                                                                       search_cli):
    marker = workdir / "pwned"
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("someone-elses")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(Payload(marker), name="model", serialization_format="cloudpickle",
                                 signature=mlflow.models.infer_signature(pd.DataFrame({"x": [1.0]}), [0]))
    marker.unlink(missing_ok=True)  # MLflow itself loads a model it logs, to check it
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(workdir / "rows.csv", index=False)
    refused = search_cli("predict", f"runs:/{run.info.run_id}/model", "--data", "rows.csv")
    assert refused.returncode == 2 and not marker.exists(), "nothing of the model ran"
    assert "stored as cloudpickle, a format that can run code" in refused.stderr
    assert "--trust-unsafe-format" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    search_cli("predict", f"runs:/{run.info.run_id}/model", "--data", "rows.csv", "--trust-unsafe-format")
    assert marker.exists(), "the flag loads it, as it says"


def test_a_model_naming_a_file_outside_its_folder_is_refused(tmp_path):
    from mlflow.models import Model

    from search.deliverable.loading import UnsafeModelError, load_estimator

    outside = tmp_path / "elsewhere.skops"
    outside.write_bytes(b"not for this model")
    folder = tmp_path / "model"
    folder.mkdir()
    for named in (str(outside), "../elsewhere.skops"):
        model = Model(flavors={"sklearn": {"serialization_format": "skops", "pickled_model": named}})
        with pytest.raises(UnsafeModelError, match=r"names a file outside its folder .*: refused"):
            load_estimator("runs:/r/model", model, folder)


# -- registration and signals ------------------------------------------------------------------------


def test_a_signal_during_registration_takes_the_version_back_and_leaves_the_alias(search_cli, tracking_uri):
    from search.deliverable.champion import register_version

    assert search_cli("study", "knn", "-n", "2", "--register", "clf", "--no-figures").returncode == 0
    client = MlflowClient(tracking_uri)
    first = client.get_model_version_by_alias("clf", "champion")
    tags = {**first.tags, "cv_score": "1.0"}  # better: it would take the alias
    with Interrupts(stop=lambda: None, interruptible=True, announce=None), pytest.raises(Interrupted):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, arriving as the write-up registers
        register_version(client, "clf", first.source.split("/")[-1], first.run_id, tags)
    assert [v.version for v in client.search_model_versions("name = 'clf'")] == [first.version]
    assert client.get_model_version_by_alias("clf", "champion").version == first.version


class _Finalised:
    """An object whose finaliser is where Python runs a signal's handler (as SQLAlchemy's weakref callbacks were)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        signal.raise_signal(self.signum)  # the handler runs at the next call, inside this finaliser
        len("the handler's raise happens here, and Python drops what a finaliser raises")


@pytest.mark.parametrize("worker", [False, True], ids=["command", "worker"])
def test_a_signal_handled_inside_a_finaliser_still_ends_the_fit_without_a_traceback(capfd, worker):
    signum = signal.SIGTERM if worker else signal.SIGINT
    stops = []
    interrupts = Interrupts(stop=lambda: stops.append(1), worker=worker, announce=None)
    with interrupts, pytest.raises(Interrupted), interrupts.fitting():
        finalised = _Finalised(signum)
        del finalised  # finalised at once: the signal's handler runs inside `__del__`
        for _ in range(1000):  # the fit goes on, for seconds at most: the signal must end it meanwhile
            time.sleep(0.01)
        pytest.fail("the fit went on after the signal")
    assert stops == [1]
    assert "Traceback" not in capfd.readouterr().err


def test_a_signal_delivered_again_after_its_fit_ended_is_not_taken_for_a_new_one(capfd):
    """A finaliser swallowed the first Ctrl-C and the fit ended before our second delivery of it arrived: the
    wrap-up's handling took it for a new signal, said "stopping" twice and cut the write-up short."""
    from search import interrupts as module

    study_phase = Interrupts(stop=lambda: None)
    module._redelivered.append(study_phase)  # asked for by the study's phase, which has ended since
    stops = []
    wrap_up = Interrupts(stop=lambda: stops.append(1), interruptible=True)
    with wrap_up:
        signal.raise_signal(signal.SIGINT)  # the delivery arrives here, in the wrap-up
    assert stops == [] and not wrap_up.signalled and module._redelivered == []
    assert "stopping" not in capfd.readouterr().err


def _a_compiled_fit_that_rewrites_errors() -> None:
    try:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C, handled inside the fit
        for _ in range(1000):
            time.sleep(0.01)
    except KeyboardInterrupt:  # as scikit-learn's Cython buffer checks turn it
        raise ValueError("'T{=d:sum_gradients:}' is not a valid PEP 3118 buffer format string") from None


def test_an_error_a_library_made_of_the_signal_is_recorded_as_the_interruption_it_is():
    interrupts = Interrupts(stop=lambda: None, announce=None)
    with interrupts, pytest.raises(Interrupted) as raised, interrupts.fitting():
        _a_compiled_fit_that_rewrites_errors()
    assert isinstance(raised.value.__cause__, ValueError), "the library's error stays as the cause"
    with interrupts, pytest.raises(ValueError, match="genuine"), interrupts.fitting():
        raise ValueError("genuine: a fit that fails after an earlier signal fails as itself")


# -- the tracking library under timing it did not expect ---------------------------------------------


def _objective(trial):
    return trial.suggest_float("x", -1, 1) ** 2


def test_a_background_writer_on_a_fresh_store_logs_every_trial_without_a_traceback(workdir, capfd):
    uri = f"sqlite:///{workdir / 'fresh' / 'mlflow.db'}"
    callback = MLflowCallback(uri, study_run=True, background=True)
    for name, n in (("warm-up", 1), ("notebook", 30)):
        optuna.create_study(study_name=name).optimize(_objective, n_trials=n, callbacks=[callback])
    assert callback.close() == []
    assert "Traceback" not in capfd.readouterr().err
    assert len(experiment_runs(uri, "notebook")[1]) == 30


def test_a_trial_whose_answer_came_late_is_never_logged_twice(tracking_uri):
    callback = MLflowCallback(tracking_uri, study_run=True, background=True)
    study = optuna.create_study(study_name="late")
    study.optimize(_objective, n_trials=12, callbacks=[callback])
    callback.flush(timeout=0, warn=False)  # no answer waited for: every trial unconfirmed, maybe written
    callback.sync(study)
    callback.close()
    numbers = [int(r.data.tags["number"]) for r in experiment_runs(tracking_uri, "late")[1]]
    assert sorted(numbers) == list(range(12)), "one run per trial, whatever the timing"


def test_a_trial_failed_by_sync_after_its_process_died_says_why(search_cli, storage, client):
    assert search_cli("study", "knn", "-n", "1", *QUICK).returncode == 0
    study = optuna.load_study(study_name="knn", storage=storage)
    trial = study.ask()
    trial.set_user_attr("search", {"worker": f"{os.uname().nodename}:999999999", "seed": 1})
    result = search_cli("sync", "knn")
    assert result.returncode == 0 and "their process is gone" in result.stdout, result
    runs = {int(r.data.tags["number"]): r for r in experiment_runs(client, "knn")[1]}
    assert runs[trial.number].info.status == "FAILED"
    assert runs[trial.number].data.tags["fail_reason"].startswith("no error recorded: failed outside its objective")


# -- figures in the user's words ---------------------------------------------------------------------


@pytest.mark.slow  # a whole study with its helper processes
def test_figures_show_the_estimators_parameters_and_the_metric(search_cli, storage):
    assert search_cli("study", "rf", "-n", "6", "--seed", "4", "--data", "iris", "--cv", "3", *QUICK).returncode == 0
    from search.deliverable.figures import study_figures
    from search.stores.optuna_storage import load_study
    from search.stores.urls import Store

    study = load_study("random-forest-iris", Store.parse(storage))
    words = []
    for made in study_figures(study):
        if made.figure is None:
            continue
        for ax in made.figure.axes:
            words += [ax.get_xlabel(), ax.get_ylabel(), *(t.get_text() for t in ax.get_yticklabels())]
        buffer = io.BytesIO()
        made.figure.savefig(buffer)
    assert not [w for w in words if "_is_none" in w or w == "Objective Value"], words
    assert "cv_accuracy" in words and "max_depth" in " ".join(words)


def test_a_write_up_stopped_before_the_refit_says_the_model_was_not_logged():
    from search.deliverable.best_model import Delivered

    stopped = Delivered(trial=3, step="drawing the figures", stopped="drawing the figures")
    assert stopped.lines("accuracy")[-1] == "Best model: not logged (interrupted)", "never 'unchanged (models:/None)'"
