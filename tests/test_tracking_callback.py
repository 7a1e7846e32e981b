"""search.tracking.MLflowCallback on real Optuna studies and real MLflow sqlite stores."""

import shutil
import subprocess
import sys
import textwrap
import threading

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from support import all_runs as runs_of
from support import experiment_runs

from search.tracking import METRICS_ATTRIBUTE_KEY, MLflowCallback, UnloggedTrialsWarning, record_failures

optuna.logging.set_verbosity(optuna.logging.ERROR)


def quadratic(trial):
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_int("y", 0, 5)
    return (x - 2) ** 2 + y


@pytest.mark.parametrize("n_jobs", [1, 4])
@pytest.mark.parametrize("background", [False, True])
def test_study_layout_nests_every_trial_exactly_once(tracking_uri, client, n_jobs, background):
    callback = MLflowCallback(tracking_uri, metric_name="loss", study_run=True, background=background)
    study = optuna.create_study(study_name=f"layout-{n_jobs}")
    study.optimize(quadratic, n_trials=16, n_jobs=n_jobs, callbacks=[callback])
    callback.close()

    runs = runs_of(client, study.study_name)
    parents = [r for r in runs if r.data.tags.get("search.role") == "study"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 16 and len(runs) == 17
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    by_number = {t.number: t for t in study.trials}
    assert sorted(int(c.data.tags["number"]) for c in children) == list(range(16))
    for child in children:
        trial = by_number[int(child.data.tags["number"])]
        assert child.data.params == {k: str(v) for k, v in trial.params.items()}
        assert child.data.metrics["loss"] == pytest.approx(trial.value)
    assert parents[0].data.metrics["best_loss"] == pytest.approx(study.best_value)


@pytest.mark.parametrize("n_jobs", [1, 4])
def test_nested_trials_go_under_the_callers_active_run_from_every_thread(tracking_uri, client, n_jobs):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("outer")
    callback = MLflowCallback(tracking_uri, create_experiment=False, mlflow_kwargs={"nested": True})
    study = optuna.create_study(study_name="nested")
    with mlflow.start_run() as outer:
        study.optimize(quadratic, n_trials=8, n_jobs=n_jobs, callbacks=[callback])
    children = [r for r in runs_of(client, "outer") if r.info.run_id != outer.info.run_id]
    assert len(children) == 8
    assert all(c.data.tags.get("mlflow.parentRunId") == outer.info.run_id for c in children)


def test_pruned_trials_are_killed_with_their_step_metrics(tracking_uri, client):
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(4):
            trial.report(x * (step + 1), step)
        if x > 0.0:
            raise optuna.TrialPruned()
        return x

    study = optuna.create_study(study_name="pruned")
    study.optimize(objective, n_trials=3, callbacks=[MLflowCallback(tracking_uri)])
    runs = runs_of(client, "pruned")
    assert {r.info.status for r in runs} == {"KILLED"}
    assert {r.data.tags["state"] for r in runs} == {"PRUNED"}
    history = client.get_metric_history(runs[0].info.run_id, "value")
    trial = study.trials[int(runs[0].data.tags["number"])]
    assert [(m.step, m.value) for m in history if m.step < 3] == [
        (s, pytest.approx(v)) for s, v in sorted(trial.intermediate_values.items()) if s < 3
    ]


def test_failed_trials_are_failed_runs_with_the_error(tracking_uri, client):
    @record_failures
    def objective(trial):
        trial.suggest_int("k", 1, 3)
        raise ValueError("bad configuration k")

    study = optuna.create_study(study_name="failing")
    study.optimize(objective, n_trials=2, catch=(ValueError,), callbacks=[MLflowCallback(tracking_uri)])
    runs = runs_of(client, "failing")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FAILED"}
    assert all(r.data.tags["fail_reason"] == "ValueError: bad configuration k" for r in runs)


def test_multi_objective_metric_names(tracking_uri, client):
    study = optuna.create_study(study_name="multi", directions=["minimize", "maximize"])
    callback = MLflowCallback(tracking_uri, metric_name=["loss", "gain"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 2.0), n_trials=2, callbacks=[callback])
    run = runs_of(client, "multi")[0]
    assert set(run.data.metrics) == {"loss", "gain"} and run.data.tags["direction"] == "['MINIMIZE', 'MAXIMIZE']"

    study = optuna.create_study(study_name="multi-default", directions=["minimize", "maximize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 2.0), n_trials=1, callbacks=[MLflowCallback(tracking_uri)])
    assert set(runs_of(client, "multi-default")[0].data.metrics) == {"value_0", "value_1"}


def test_mismatched_metric_names_raise_value_error_out_of_optimize(tracking_uri):
    study = optuna.create_study(directions=["minimize", "maximize"])
    callback = MLflowCallback(tracking_uri, metric_name=["only-one"])
    with pytest.raises(ValueError, match="2 objective values, but 1 names"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1, callbacks=[callback])


def test_long_user_attrs_are_truncated_to_mlflows_limit(tracking_uri, client):
    def objective(trial):
        trial.set_user_attr("notes", "n" * 9000)
        return quadratic(trial)

    study = optuna.create_study(study_name="long")
    study.optimize(objective, n_trials=1, callbacks=[MLflowCallback(tracking_uri)])
    tag = runs_of(client, "long")[0].data.tags["notes"]
    assert len(tag) == 8000 and tag.endswith("...")


def test_metrics_user_attr_becomes_metrics_not_tags(tracking_uri, client):
    def objective(trial):
        trial.set_user_attr(METRICS_ATTRIBUTE_KEY, {"test_accuracy": 0.75, "fit_time": 0.1})
        return quadratic(trial)

    study = optuna.create_study(study_name="extra")
    study.optimize(objective, n_trials=1, callbacks=[MLflowCallback(tracking_uri)])
    run = runs_of(client, "extra")[0]
    assert run.data.metrics["test_accuracy"] == 0.75 and METRICS_ATTRIBUTE_KEY not in run.data.tags


def test_logging_a_trial_twice_updates_its_run(tracking_uri, client):
    callback = MLflowCallback(tracking_uri)
    study = optuna.create_study(study_name="twice")
    study.optimize(quadratic, n_trials=1, callbacks=[callback])
    callback(study, study.trials[0])  # a retry
    runs = runs_of(client, "twice")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"


def test_unreachable_tracking_store_does_not_stop_the_study(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    callback = MLflowCallback("http://127.0.0.1:9")  # the discard port: nothing listens
    study = optuna.create_study(study_name="offline")
    with pytest.warns(UnloggedTrialsWarning, match="unreachable"):
        study.optimize(quadratic, n_trials=5, callbacks=[callback])
        unlogged = callback.flush()
    assert len(study.trials) == 5 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert unlogged == [0, 1, 2, 3, 4] == callback.unlogged_trials
    assert study.user_attrs["mlflow_unlogged_trials"] == [0, 1, 2, 3, 4]


@pytest.mark.slow  # a whole study with its helper processes
def test_unlogged_trials_are_written_once_the_store_is_back(tracking_uri, client, workdir):
    blocker = workdir / "store"
    blocker.write_text("a file where the store's directory should be")
    broken = f"sqlite:///{blocker / 'mlflow.db'}"
    callback = MLflowCallback(broken)
    study = optuna.create_study(study_name="recover")
    with pytest.warns(UnloggedTrialsWarning):
        study.optimize(quadratic, n_trials=3, callbacks=[callback])
        assert callback.flush() == [0, 1, 2]
    assert study.user_attrs["mlflow_unlogged_trials"] == [0, 1, 2]
    blocker.unlink()
    blocker.mkdir()
    assert callback.flush() == []
    assert study.user_attrs["mlflow_unlogged_trials"] == []
    assert len(runs_of(MlflowClient(broken), "recover")) == 3


# -- optuna-integration's behaviours, which code written for the old class relies on ------------


def test_create_experiment_false_logs_into_the_active_experiment(tracking_uri, client):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("chosen")
    study = optuna.create_study(study_name="ignored-name")
    study.optimize(quadratic, n_trials=2, callbacks=[MLflowCallback(tracking_uri, create_experiment=False)])
    assert len(runs_of(client, "chosen")) == 2 and client.get_experiment_by_name("ignored-name") is None


def test_experiment_id_in_mlflow_kwargs(tracking_uri, client):
    experiment_id = client.create_experiment("by-id")
    callback = MLflowCallback(tracking_uri, create_experiment=False, mlflow_kwargs={"experiment_id": experiment_id})
    optuna.create_study().optimize(quadratic, n_trials=2, callbacks=[callback])
    assert len(runs_of(client, "by-id")) == 2


def test_user_attrs_become_tags_and_study_attrs_on_request(tracking_uri, client):
    def objective(trial):
        trial.set_user_attr("fold", "A")
        return quadratic(trial)

    study = optuna.create_study(study_name="attrs")
    study.set_user_attr("owner", "ds-team")
    callback = MLflowCallback(tracking_uri, tag_study_user_attrs=True, mlflow_kwargs={"tags": {"team": "x"}})
    study.optimize(objective, n_trials=1, callbacks=[callback])
    tags = runs_of(client, "attrs")[0].data.tags
    assert tags["fold"] == "A" and tags["owner"] == "ds-team" and tags["team"] == "x"
    assert tags["x_distribution"].startswith("FloatDistribution")


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_track_in_mlflow_logs_into_the_trials_run(tracking_uri, client, n_jobs):
    callback = MLflowCallback(tracking_uri, metric_name="loss")
    inside = []

    @callback.track_in_mlflow()
    def objective(trial, offset=0.0):
        value = quadratic(trial) + offset
        mlflow.log_metric("extra", value * 2)
        inside.append(threading.get_ident())
        return value

    study = optuna.create_study(study_name=f"decorated-{n_jobs}")
    study.optimize(lambda t: objective(t, offset=1.0), n_trials=6, n_jobs=n_jobs, callbacks=[callback])
    runs = runs_of(client, study.study_name)
    assert len(runs) == 6
    assert len(inside) == 6, "the objective ran once per trial, inside its run"
    for run in runs:
        assert run.data.metrics["extra"] == pytest.approx(2 * run.data.metrics["loss"])
        assert run.info.status == "FINISHED"


def test_same_runs_as_optuna_integrations_callback(workdir, migrated_mlflow_db):
    """Changing the import is enough: both callbacks log the same runs for the same study."""
    old_module = pytest.importorskip("optuna_integration.mlflow")
    results = {}
    for label, callback_class in (("old", old_module.MLflowCallback), ("new", MLflowCallback)):
        shutil.copyfile(migrated_mlflow_db, workdir / f"{label}.db")
        uri = f"sqlite:///{workdir / label}.db"
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(study_name="same", storage=storage, sampler=optuna.samplers.RandomSampler(0))

        def objective(trial):
            trial.set_user_attr("note", "hello")
            return quadratic(trial)

        study.optimize(objective, n_trials=3, callbacks=[callback_class(tracking_uri=uri, metric_name="loss")])
        runs = sorted(runs_of(MlflowClient(uri), "same"), key=lambda r: r.info.run_name)
        ignore = ("datetime_start", "datetime_complete", "mlflow.source.name", "mlflow.source.git.commit")
        results[label] = [
            (r.info.run_name, r.data.params, r.data.metrics,
             {k: v for k, v in r.data.tags.items() if k not in ignore})
            for r in runs
        ]
    assert results["new"] == results["old"]


TWO_PROCESS_WORKER = textwrap.dedent(
    """
    import sys, optuna
    from search.tracking import MLflowCallback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage, uri = sys.argv[1], sys.argv[2]
    if storage.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
        storage = optuna.storages.JournalStorage(JournalFileBackend(storage, lock_obj=JournalFileOpenLock(storage)))
    study = optuna.load_study(study_name="shared", storage=storage)
    callback = MLflowCallback(uri, study_run=True)
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=10, callbacks=[callback])
    callback.close()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_processes_on_one_study_share_one_parent_run(workdir, tracking_uri, client, kind):
    if kind == "sqlite":
        storage = f"sqlite:///{workdir / 'optuna.db'}"
        optuna.create_study(study_name="shared", storage=storage)
    else:
        storage = str(workdir / "optuna.journal")
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        backend = optuna.storages.JournalStorage(JournalFileBackend(storage, lock_obj=JournalFileOpenLock(storage)))
        optuna.create_study(study_name="shared", storage=backend)
    MlflowClient(tracking_uri).search_experiments()  # the store exists before the workers race
    workers = [
        subprocess.Popen([sys.executable, "-c", TWO_PROCESS_WORKER, storage, tracking_uri], cwd=workdir,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
    runs = runs_of(client, "shared")
    parents = [r for r in runs if r.data.tags.get("search.role") == "study"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    assert sorted(int(c.data.tags["number"]) for c in children) == list(range(20))
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}


def test_track_in_mlflow_works_after_the_process_chose_another_experiment(tracking_uri, client):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("other")  # as a notebook might have, before the study
    callback = MLflowCallback(tracking_uri, metric_name="loss")

    @callback.track_in_mlflow()
    def objective(trial):
        value = quadratic(trial)
        mlflow.log_metric("inside", value)
        return value

    study = optuna.create_study(study_name="after-other")
    study.optimize(objective, n_trials=3, n_jobs=2, callbacks=[callback])
    assert all(t.state.name == "COMPLETE" for t in study.trials), [t.user_attrs for t in study.trials]
    runs = runs_of(client, "after-other")
    assert len(runs) == 3 and all("inside" in run.data.metrics for run in runs)
    assert runs_of(client, "other") == [], "every trial's run stays in the study's experiment"


def test_one_callback_logs_two_in_memory_studies_each_trial_once(tracking_uri, client):
    callback = MLflowCallback(tracking_uri, metric_name="loss", study_run=True)
    first = optuna.create_study(study_name="first", storage=optuna.storages.InMemoryStorage())
    second = optuna.create_study(study_name="second", storage=optuna.storages.InMemoryStorage())
    first.optimize(quadratic, n_trials=4, callbacks=[callback])
    second.optimize(quadratic, n_trials=4, callbacks=[callback])  # trial ids 0..3 again, in another storage
    assert callback.close() == []
    for study in (first, second):
        parents, children = experiment_runs(client, study.study_name)
        assert len(parents) == 1
        assert sorted(int(c.data.tags["number"]) for c in children) == [0, 1, 2, 3]
        assert sorted(c.data.metrics["loss"] for c in children) == pytest.approx(sorted(t.value for t in study.trials))


def test_sync_never_logs_a_second_run_for_a_trial_its_process_logged_while_sync_looked(workdir, tracking_uri, client):
    # Two callbacks on one study, as two processes: the owner logs its trial the moment before it dies,
    # which is after the repairing one listed the runs and before it decided the owner was gone.
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    study = optuna.create_study(study_name="late", storage=storage)
    owner = MLflowCallback(tracking_uri, study_run=True)
    repairer = MLflowCallback(tracking_uri, study_run=True)
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=1)  # finished, no run yet
    owner.study_run_id(study)

    def owner_logs_then_dies(trial: optuna.trial.FrozenTrial) -> bool:
        owner(study, trial)
        owner.close()
        return True  # its process is gone: the trial may be repaired

    report = repairer.sync(study, repair=owner_logs_then_dies)
    repairer.close()
    children = [r for r in runs_of(client, "late") if "mlflow.parentRunId" in r.data.tags]
    assert [c.data.tags["number"] for c in children] == ["0"], "one run for the one trial"
    assert report.created == []


_THREADED_OWNER = """
import sys, threading, time
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()  # as a notebook's kernel runs threads
from search.tracking._background import BackgroundWriter
writer = BackgroundWriter(sys.argv[1])
print(writer._process.pid, writer.ready, flush=True)
time.sleep(600)
"""


@pytest.mark.slow  # starts an owner process, a fork server and a writer
def test_a_writer_of_a_process_running_threads_comes_from_the_fork_server_ready_and_dies_with_its_owner(
        tracking_uri):
    """Forking a process that runs threads is unsafe; spawning a writer imports MLflow again (2.7 s of CPU)."""
    import psutil

    owner = subprocess.Popen([sys.executable, "-c", _THREADED_OWNER, tracking_uri], stdout=subprocess.PIPE, text=True)
    try:
        pid, ready = owner.stdout.readline().split()
        writer = psutil.Process(int(pid))
        server = writer.parent()
        assert ready == "True", "a forked writer has MLflow already: it takes records at once"
        assert server.pid != owner.pid and server.ppid() == owner.pid, "forked by the owner's fork server"
    finally:
        owner.kill()
        owner.wait()
    _, alive = psutil.wait_procs([writer, server], timeout=30)
    assert alive == [], "the writer and the fork server end with their owner (kill -9 included)"
