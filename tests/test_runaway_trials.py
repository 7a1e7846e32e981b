"""No trial holds a study hostage: a fit in compiled code that never returns is stopped by its time limit or a
signal, its process killed, and a configuration that killed its process is not tried again and again.

The endless fit is real: libsvm on an ill-conditioned poly kernel (``tiny_plugin.EndlessSVC``), which runs for
many minutes without returning to the interpreter.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
from pathlib import Path

import optuna
import psutil
import pytest

from search.fit_process import FitTimeout, run_fit
from search.interrupts import Interrupted, Interrupts
from search.study.limits import trial_limit, trials_budget
from search.study.orphans import fail_orphans

PLUGIN = Path(__file__).parent / "plugin_example"

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture
def endless_fit(monkeypatch: pytest.MonkeyPatch):
    """A fit that runs libsvm for minutes; it sends its process id when it starts."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    from tiny_plugin import EndlessSVC

    def fit(send) -> None:
        send(os.getpid())
        EndlessSVC().fit(None, None)

    return fit


def gone(pids: list[int]) -> bool:
    """Whether none of ``pids`` runs any more (reaped: not even a zombie)."""
    return pids != [] and not any(psutil.pid_exists(pid) for pid in pids)


def test_a_compiled_fit_past_its_limit_is_stopped_with_its_reason_and_its_process_killed(endless_fit):
    pids: list[int] = []
    with pytest.raises(FitTimeout, match=r"^exceeded the per-trial limit of 1\.5 s$"):
        run_fit(endless_fit, limit=1.5, on_message=pids.append)
    assert gone(pids)


def test_a_signal_stops_a_compiled_fit_at_once_and_leaves_no_process(endless_fit):
    stopped, pids = [], []
    interrupts = Interrupts(stop=lambda: stopped.append(True), announce=None)

    def on_message(pid: int) -> None:  # the child is in libsvm now: Ctrl-C in a moment
        pids.append(pid)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()

    with interrupts, pytest.raises(Interrupted), interrupts.fitting():
        run_fit(endless_fit, on_message=on_message)
    assert stopped == [True]
    assert gone(pids)


def test_a_thread_that_gets_no_signal_stops_its_fit_when_the_study_is_stopped(endless_fit):
    stop = threading.Event()
    raised: list[BaseException] = []
    pids: list[int] = []

    def started(pid: int) -> None:
        pids.append(pid)
        stop.set()

    def trial() -> None:
        try:
            run_fit(endless_fit, on_message=started, should_stop=stop.is_set)
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=trial)
    thread.start()
    thread.join()
    assert [type(error) for error in raised] == [Interrupted]
    assert gone(pids)


def test_what_a_fit_returns_raises_and_warns_reaches_the_parent():
    import warnings

    def fit(send):
        send(1)
        warnings.warn("careful", UserWarning, stacklevel=1)
        return {"score": 0.5}

    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_fit(fit, on_message=messages.append) == {"score": 0.5}
    assert messages == [1]
    assert [str(w.message) for w in caught] == ["careful"]

    def bad(send):
        raise ValueError("n_neighbors=9 is more than the 4 rows")

    with pytest.raises(ValueError, match="n_neighbors=9"):
        run_fit(bad)


@pytest.mark.parametrize(("trial_timeout", "seconds_left", "expected"), [
    (None, None, (600.0, " (the default; see --trial-timeout)")),
    (30.0, None, (30.0, "")),
    (None, 20.0, (25.0, " (what was left of --timeout, plus 5 s)")),
    (None, -3.0, (5.0, " (what was left of --timeout, plus 5 s)")),
    (10.0, 100.0, (10.0, "")),
    (100.0, 10.0, (15.0, " (what was left of --timeout, plus 5 s)")),
])
def test_a_trial_never_runs_past_the_budget_by_more_than_the_grace(trial_timeout, seconds_left, expected):
    assert trial_limit(trial_timeout, seconds_left) == expected


def dead_process() -> str:
    """The ``host:pid`` of a process that ran and is gone."""
    import socket

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return f"{socket.gethostname()}:{pid}"


def journal_study(tmp_path: Path) -> optuna.study.Study:
    backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.journal"))
    return optuna.create_study(study_name="s", storage=optuna.storages.JournalStorage(backend))


def run_as(study: optuna.study.Study, trial_id: int, worker: str | None) -> None:
    """Take a trial as a process that names itself ``worker`` (None: that died before it could)."""
    study._storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING)
    if worker is not None:
        study._storage.set_trial_user_attr(trial_id, "search", {"worker": worker})


def test_a_configuration_whose_process_died_twice_is_not_queued_a_third_time(tmp_path):
    study = journal_study(tmp_path)
    first = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    study._storage.set_trial_user_attr(first._trial_id, "search", {"worker": dead_process()})
    assert fail_orphans(study) == [0]
    retry = study.trials[-1]
    assert retry.state.name == "WAITING" and retry.params == first.params  # died through no fault of its own: once

    run_as(study, retry._trial_id, dead_process())
    assert fail_orphans(study) == [retry.number]
    assert [(t.state.name, t.params) for t in study.trials] == [("FAIL", first.params), ("FAIL", first.params)]


def test_a_running_trial_that_names_no_process_is_healed_once_it_has_been_so_a_while(tmp_path):
    study = journal_study(tmp_path)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, params={"x": 0.5},
                                              distributions={"x": optuna.distributions.FloatDistribution(0, 1)}))
    pid = os.fork()  # a process killed right after taking the queued trial, before claiming it
    if pid == 0:
        run_as(journal_study_again(tmp_path), study.trials[0]._trial_id, None)
        os._exit(9)
    os.waitpid(pid, 0)
    assert study.trials[0].state.name == "RUNNING" and "search" not in study.trials[0].user_attrs
    assert fail_orphans(study) == []  # a live process would claim it within the same instant: not yet
    assert fail_orphans(study, ownerless_after=0.0) == [0]
    assert [(t.state.name, t.params) for t in study.trials] == [("FAIL", {"x": 0.5}), ("WAITING", {"x": 0.5})]
    assert study.trials[0].datetime_start < datetime.datetime.now()


def journal_study_again(tmp_path: Path) -> optuna.study.Study:
    backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.journal"))
    return optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(backend))


def test_a_fit_in_a_child_of_a_process_that_used_openmp_threads_does_not_hang():
    """GNU OpenMP's pool does not survive a fork (a notebook's kernel that predicted before): the child's kNN
    waited forever for threads that are not there (found by the suite: pytest's process had predicted)."""
    from search.data import load_dataset
    from search.plugins import get_model

    data = load_dataset()
    spec = get_model("knn")
    model = spec.build(spec.resolve({"n_neighbors": 3}), 0, data.columns).fit(data.X_train, data.y_train)
    rows = data.features("test")
    model.predict(rows)  # OpenMP's pool of this process, started

    predicted = run_fit(lambda send: model.predict(rows), limit=60)
    assert list(predicted) == list(model.predict(rows))


def test_a_fit_never_finalises_the_parents_garbage(tmp_path):
    """A fit's child that collected an SQLite connection the parent had dropped hung on a lock another thread of
    the parent held at the fork (seen: a worker's fit child stuck in sqlite3_finalize). Garbage stays the parent's."""
    import gc

    finalised = tmp_path / "finalised-by"

    class Cycle:
        def __del__(self) -> None:
            finalised.write_text(str(os.getpid()))

    gc.disable()
    try:
        cycle = Cycle()
        cycle.itself = cycle
        del cycle  # garbage only a collection finds
        assert run_fit(lambda send: gc.collect()) >= 0
        assert not finalised.exists(), "the child finalised the parent's garbage"
    finally:
        gc.enable()
        gc.collect()
    assert finalised.read_text() == str(os.getpid())


@pytest.mark.parametrize(("timeout", "spent", "budget"), [
    (None, 3.0, None),  # no budget: trials start until --n-trials
    (30.0, 2.0, 23.0),  # what is left, less 5 s for the write-up
    (10.0, 1.0, 7.0),  # a fifth of a short budget
    (10.0, 20.0, 1.0),  # spent before the first trial: one still starts
])
def test_trials_start_while_the_write_ups_share_of_timeout_is_left(timeout, spent, budget):
    assert trials_budget(timeout, spent) == budget
