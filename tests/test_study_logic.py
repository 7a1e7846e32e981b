"""A study's logic in-process, on real Optuna storages: planning, resuming, quotas, shares, orphans, stores.

No MLflow store is touched and a process is started only where a process boundary is the point: these are the fast
checks of the decisions the study commands take.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from search.errors import InputError
from search.stores.optuna_storage import open_storage
from search.stores.urls import Kind, Store, resolve_storage, resolve_tracking
from search.study import StudyConfig, StudyError
from search.study.config import mismatch
from search.study.orphans import dead_here, fail_orphans, process_alive, repairable
from search.study.plan import inspect_stores, open_study, plan_study, stretches_of
from search.study.remote import split_trials
from search.study.workers import Quota, run_trials
from search.tracking import FAIL_REASON_ATTRIBUTE_KEY
from search.trials import TRIAL_ATTRIBUTE_KEY, counts_toward_quota

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def config(workdir: Path) -> StudyConfig:
    return StudyConfig(models=("knn",), n_trials=3, seed=7, storage=f"sqlite:///{workdir / 'optuna.db'}",
                       tracking=f"sqlite:///{workdir / 'mlflow.db'}")


# -- stores, parsed once -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("sqlite:///optuna.db", Kind.sqlite, "optuna.db"),
        ("optuna.journal", Kind.journal, "optuna.journal"),
        ("postgresql://u:pw@db/optuna", Kind.database, None),
        ("redis://127.0.0.1:6379/0?prefix=a:", Kind.redis, None),
        ("https://u:pw@mlflow.example.com", Kind.server, None),
    ],
)
def test_a_store_url_is_parsed_once_into_its_kind_and_file(workdir, url, kind, path):
    store = Store.parse(url)
    assert store.kind is kind
    assert store.path == (workdir / path if path else None)
    assert "pw" not in str(store) and "pw" not in store.masked
    if path:
        assert str(workdir) in store.url, "a relative file is anchored where the command runs"


def test_relative_files_are_taken_from_the_base_given(tmp_path):
    assert Store.parse("sqlite:///s/m.db?timeout=3", tmp_path).url == f"sqlite:///{tmp_path}/s/m.db?timeout=3"
    assert Store.parse("x.journal", tmp_path).path == tmp_path / "x.journal"


def test_blank_options_mean_the_embedded_stores(workdir):
    assert resolve_storage("  ").path == workdir / "optuna.db"
    assert resolve_tracking("").path == workdir / "mlflow.db"


# -- the config and its stored settings ------------------------------------------------------------


def test_settings_round_trip_through_from_settings(config):
    config = plan_study(config).config  # the task and metric the data decided, as a study stores them
    assert config.settings()["task"] == "classification" and config.settings()["metric"] == "accuracy"
    again = StudyConfig.from_settings(config.settings(), name=config.name, storage=config.storage,
                                      tracking=config.tracking, log_model=True)
    assert again.settings() == {**config.settings(), "seed": None, "sampler": "tpe", "pruner": "median"}


def test_a_resume_with_other_settings_is_refused_in_one_message(config):
    config = plan_study(config).config
    stored = {**config.settings(), "metric": "f1"}
    assert mismatch(stored, config) == (
        "study 'knn' was run with metric=f1, not accuracy; pass another --study-name to start a new study"
    )
    assert mismatch({**config.settings(), "sampler": "random"}, config) is None, "a sampler may change"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("a\nb", "control character"), ("   ", "must not be blank"), (" x", "white space"), ("x" * 251, "250")],
)
def test_study_names_that_would_break_mlflow_or_a_shell_are_refused(workdir, name, fragment):
    with pytest.raises(InputError, match=fragment):
        StudyConfig(models=("knn",), study_name=name)


def test_a_slash_is_a_fine_study_name(workdir):
    assert StudyConfig(models=("knn",), study_name="team/knn").name == "team/knn"


def test_workers_far_above_the_cores_are_refused(workdir):
    with pytest.raises(StudyError, match=f"more than this machine's {os.cpu_count()} cores"):
        StudyConfig(models=("knn",), workers=1000)


def test_an_mlflow_server_is_not_an_optuna_storage(workdir):
    with pytest.raises(InputError, match="MLflow tracking server, not an Optuna storage"):
        StudyConfig(models=("knn",), storage="http://127.0.0.1:5000")


# -- planning and opening -----------------------------------------------------------------------------


def test_planning_writes_nothing(config, workdir):
    plan = plan_study(config)
    inspect_stores(plan)
    assert plan.seed == 7 and plan.trials_before == 0 and not plan.recreate
    assert list(workdir.iterdir()) == []


def test_a_study_is_opened_with_its_settings_and_the_commands_stretch(config):
    plan = plan_study(config)
    study = open_study(plan, open_storage(config.storage))
    assert study.user_attrs["settings"] == plan.config.settings()
    assert stretches_of(study) == [plan.stretch()]


def test_a_resumed_study_must_have_its_settings(config):
    study = open_study(plan_study(config), open_storage(config.storage))
    study.add_trial(optuna.trial.create_trial(value=0.5))
    other = StudyConfig(models=("knn",), storage=config.storage, tracking=config.tracking, data=config.data,
                        scoring=type(config.scoring)("f1", 5))
    plan = plan_study(other)
    with pytest.raises(StudyError, match="was run with metric=accuracy"):
        inspect_stores(plan)


def test_a_study_without_trials_is_made_again_with_new_settings(config):
    open_study(plan_study(config), open_storage(config.storage))
    other = StudyConfig(models=("knn",), storage=config.storage, tracking=config.tracking, data=config.data,
                        scoring=type(config.scoring)("f1", 5))
    plan = plan_study(other)
    inspect_stores(plan)
    assert plan.recreate
    study = open_study(plan, open_storage(other.storage))
    assert study.user_attrs["settings"]["metric"] == "f1"


# -- quotas and shares ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_trials", "workers", "shares"),
    [(10, 4, [3, 3, 2, 2]), (2, 4, [1, 1]), (8, 1, [8]), (None, 3, [None, None, None])],
)
def test_remote_workers_get_even_shares_and_none_gets_nothing(n_trials, workers, shares):
    assert split_trials(n_trials, workers) == shares


def test_a_quota_counts_only_finished_trials_and_gives_back_interrupted_ones():
    quota = Quota(3, None, slots=2, context=multiprocessing.get_context("fork"))
    ran: list[int] = []

    def run_one() -> None:
        ran.append(1)
        if len(ran) == 2:
            raise KeyboardInterrupt  # this slot goes back; the loop stops

    with pytest.raises(KeyboardInterrupt):
        run_trials(quota, 0, 1, run_one)
    assert quota.finished == 1 and quota.stopped
    assert not quota.take(1), "a stopped quota starts nothing"


def test_a_dead_workers_slots_go_back_but_its_stored_trials_count():
    quota = Quota(4, None, slots=2, context=multiprocessing.get_context("fork"))
    assert quota.take(1) and quota.take(1) and quota.take(0)
    quota.finish(0)
    quota.settle_dead(1, finished_in_storage=1)  # it finished one trial before dying, and was running another
    assert quota.finished == 2
    assert quota.take(0) and quota.take(0), "its lost slot is another's to take"
    quota.finish(0)
    quota.finish(0)
    assert quota.finished == 4 and not quota.take(0), "and then the command has its four trials"


def test_which_trials_count_toward_a_commands_quota():
    def trial(state, reason=None):
        attrs = {FAIL_REASON_ATTRIBUTE_KEY: reason} if reason else {}
        values = 1.0 if state is optuna.trial.TrialState.COMPLETE else None
        return optuna.trial.create_trial(state=state, value=values, user_attrs=attrs)

    assert counts_toward_quota(trial(optuna.trial.TrialState.COMPLETE))
    assert counts_toward_quota(trial(optuna.trial.TrialState.FAIL, "ValueError: bad"))
    assert not counts_toward_quota(trial(optuna.trial.TrialState.FAIL, "interrupted (Interrupted)"))
    assert not counts_toward_quota(trial(optuna.trial.TrialState.FAIL)), "lost with its process"


# -- orphans ----------------------------------------------------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_running_trial_whose_process_is_gone_is_failed_and_queued_again(config):
    study = open_study(plan_study(config), open_storage(config.storage))
    gone = f"{os.uname().nodename}:{_dead_pid()}"
    here = f"{os.uname().nodename}:{os.getpid()}"
    for worker in (gone, here):
        trial = study.ask({"n_neighbors": optuna.distributions.IntDistribution(1, 50)})
        trial.set_user_attr(TRIAL_ATTRIBUTE_KEY, {"worker": worker, "seed": 1})
    assert fail_orphans(study) == [0]
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states == ["FAIL", "RUNNING", "WAITING"], "the dead one failed and queued again; ours left alone"
    assert study.trials[2].params == study.trials[0].params


def test_a_pid_reused_by_a_newer_process_is_not_the_trials_process():
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), since=datetime.datetime(2000, 1, 1))
    assert not process_alive(_dead_pid())


def test_a_finished_trial_without_a_run_is_left_to_a_live_process_elsewhere_for_a_while():
    finished = datetime.datetime.now()
    other = optuna.trial.create_trial(value=1.0, user_attrs={TRIAL_ATTRIBUTE_KEY: {"worker": "elsewhere:1"}})
    other.datetime_complete = finished
    mine = optuna.trial.create_trial(value=1.0, user_attrs={TRIAL_ATTRIBUTE_KEY: {"worker": "me:1"}})
    check = repairable({"me:1"}, settle_seconds=60)
    assert check(mine) and not check(other)
    assert repairable(set(), settle_seconds=-1)(other), "after the settling time, anyone logs it"
    assert not dead_here(other), "another host's process is not known to be gone"


_ASK_AND_DIE = """
import os, sys, optuna
from search.stores.optuna_storage import open_storage
from search.stores.urls import resolve_storage
from search.study.workers import trial_claim
storage = open_storage(resolve_storage(sys.argv[1]), heartbeat=True, claim=trial_claim)
study = optuna.load_study(study_name="s", storage=storage)
study.ask()  # a new trial, or the queued one
os._exit(0)  # killed before any objective could record anything
"""


def _load_in_a_forked_helper(storage: optuna.storages.BaseStorage) -> None:
    for _ in range(3):  # as a figure process or a worker reads the study
        optuna.load_study(study_name="s", storage=storage).trials  # noqa: B018 - the read is the point


def test_a_forked_helper_never_talks_over_the_parents_postgresql_connections(postgres_url):
    import psycopg
    from sqlalchemy import text

    from search.common.processes import process_context

    storage = open_storage(resolve_storage(postgres_url))
    optuna.create_study(study_name="s", storage=storage)
    held = [storage.engine.connect() for _ in range(3)]  # three connections idle in the pool, as in a study
    parents = [c.execute(text("SELECT pg_backend_pid()")).scalar() for c in held]
    for connection in held:
        connection.close()
    helper = process_context().Process(target=_load_in_a_forked_helper, args=(storage,))
    with psycopg.connect(postgres_url, autocommit=True) as watcher:  # outside the pool
        before = watcher.execute("SELECT clock_timestamp()").fetchone()[0]
        helper.start()
        helper.join()
        last_used = dict(watcher.execute(
            "SELECT pid, state_change FROM pg_stat_activity WHERE pid = ANY(%s)", [parents]
        ).fetchall())
    assert helper.exitcode == 0
    assert sorted(last_used) == sorted(parents), "the parent's connections are all still open"
    assert all(last_used[pid] < before for pid in parents), "the helper sent nothing over the parent's connections"


@pytest.mark.parametrize("queued", [False, True], ids=["new", "queued"])
def test_a_journal_trial_names_its_process_from_its_creation_so_a_death_right_after_ask_is_repaired(
    tmp_path, queued
):
    url = str(tmp_path / "optuna.journal")
    study = optuna.create_study(study_name="s", storage=open_storage(resolve_storage(url)))
    if queued:  # a retried trial carries the dead worker it came from until it is taken
        study.enqueue_trial({"x": 1.0}, user_attrs={TRIAL_ATTRIBUTE_KEY: {"worker": "elsewhere:1"}})
    process = subprocess.Popen([sys.executable, "-c", _ASK_AND_DIE, url])
    assert process.wait() == 0
    (trial,) = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert trial.user_attrs[TRIAL_ATTRIBUTE_KEY]["worker"] == f"{os.uname().nodename}:{process.pid}"
    assert fail_orphans(study) == [trial.number]
