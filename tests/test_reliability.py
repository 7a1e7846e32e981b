"""Nothing lost, nothing stuck: Ctrl-C, SIGTERM, kill -9, a tracking server that dies, commands at once.

Real processes and signals: ``search`` runs in its own session on a
pseudo-terminal and a signal goes to its whole process group, as a terminal
sends Ctrl-C (and CML a stop); real ``mlflow server`` processes; real sqlite and
PostgreSQL storages.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from conftest import SEARCH, MlflowServer, all_runs, cli_env, experiment_runs

pytestmark = pytest.mark.slow

optuna.logging.set_verbosity(optuna.logging.ERROR)


class Terminal:
    """``search`` on a pseudo-terminal, in its own session (so its own process group), as a user runs it."""

    def __init__(self, args: list[str], cwd: Path, **env: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes `search`
            os.chdir(cwd)
            os.execve(SEARCH, [SEARCH, *args], cli_env(**env))
        self.output = b""
        self.code: int | None = None

    def read(self, seconds: float) -> None:
        """Collect what it prints for ``seconds`` (or until it exits)."""
        deadline = time.monotonic() + seconds
        while self.code is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the terminal closed: the process is gone
                    self._reap(block=True)
            else:
                self._reap(block=False)

    def _reap(self, block: bool) -> None:
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid:
            self.code = os.waitstatus_to_exitcode(status)

    def wait(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while self.code is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {seconds} s:\n{self.text}")
            self.read(0.2)
        return self.code

    def signal_group(self, signum: int) -> None:
        os.killpg(os.getpgid(self.pid), signum)

    def kill(self) -> None:
        if self.code is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(self.pid), signal.SIGKILL)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


def finished_trials(storage: str, study: str) -> list:
    try:
        return [t for t in optuna.load_study(study_name=study, storage=storage).trials if t.state.is_finished()]
    except Exception:  # not created yet
        return []


def wait_for_trials(terminal: Terminal, storage: str, study: str, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while len(finished_trials(storage, study)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} trials after {timeout} s:\n{terminal.text}"
        assert terminal.code is None, terminal.text
        terminal.read(0.5)


def assert_runs_match_trials(tracking_uri: str, storage: str, study: str) -> None:
    """Every finished trial has exactly one ended child run; nothing is left RUNNING."""
    trials = optuna.load_study(study_name=study, storage=storage).trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"], "a trial is left RUNNING"
    parents, children = experiment_runs(tracking_uri, study)
    assert len(parents) == 1 and parents[0].info.status != "RUNNING"
    numbers = Counter(int(c.data.tags["number"]) for c in children)
    assert sorted(numbers) == sorted(t.number for t in trials if t.state.is_finished())
    assert set(numbers.values()) == {1}, f"duplicated runs: {numbers}"
    assert not [c.info.run_name for c in children if c.info.status == "RUNNING"], "a run is left RUNNING"


@pytest.fixture
def stores(workdir, tracking_uri, storage):
    return storage, tracking_uri


# -- Ctrl-C and SIGTERM -------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_to_the_group_stops_within_seconds_and_ends_every_run(workdir, stores, signum):
    storage, tracking_uri = stores
    terminal = Terminal(["study", "rf", "--n-trials", "200", "--seed", "4"], workdir)
    try:
        wait_for_trials(terminal, storage, "random-forest", 2)
        terminal.read(1.0)  # into the next trial
        signalled = time.monotonic()
        terminal.signal_group(signum)
        assert terminal.wait(10) == 130
        assert time.monotonic() - signalled < 10
    finally:
        terminal.kill()
    assert "Traceback" not in terminal.text
    assert "interrupted; every finished trial is saved and logged" in terminal.text
    parents, children = experiment_runs(tracking_uri, "random-forest")
    assert parents[0].info.status == "KILLED"
    trials = optuna.load_study(study_name="random-forest", storage=storage).trials
    interrupted = [t for t in trials if t.state.name == "FAIL"]
    assert len(interrupted) == 1 and interrupted[0].user_attrs["fail_reason"].startswith("interrupted")
    by_number = {int(c.data.tags["number"]): c for c in children}
    assert by_number[interrupted[0].number].info.status == "KILLED"
    assert_runs_match_trials(tracking_uri, storage, "random-forest")

    again = subprocess.run([SEARCH, "study", "rf", "--n-trials", "2"], cwd=workdir, env=cli_env(),
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert "added 2." in again.stdout
    assert_runs_match_trials(tracking_uri, storage, "random-forest")


def test_a_second_ctrl_c_exits_at_once_and_a_resume_heals_what_it_left(workdir, stores):
    storage, tracking_uri = stores
    terminal = Terminal(["study", "rf", "--n-trials", "200", "--workers", "2"], workdir)
    try:
        wait_for_trials(terminal, storage, "random-forest", 2)
        terminal.signal_group(signal.SIGINT)
        terminal.read(0.05)
        terminal.signal_group(signal.SIGINT)
        assert terminal.wait(5) == 130
    finally:
        terminal.kill()
    assert "Traceback" not in terminal.text
    assert "interrupted again; exiting at once" in terminal.text
    again = subprocess.run([SEARCH, "study", "rf", "--n-trials", "2"], cwd=workdir, env=cli_env(),
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert_runs_match_trials(tracking_uri, storage, "random-forest")


# -- kill -9 ------------------------------------------------------------------------------------------


def _kill_mid_trial_then_resume(workdir: Path, storage: str, tracking_uri: str, extra: list[str]) -> None:
    terminal = Terminal(["study", "rf", "--n-trials", "200", "--storage", storage, *extra], workdir)
    try:
        wait_for_trials(terminal, storage, "random-forest", 3)
        terminal.read(0.7)
        os.kill(terminal.pid, signal.SIGKILL)  # the command's own process, nothing else
        terminal.wait(10)
    finally:
        terminal.kill()
    before = len(finished_trials(storage, "random-forest"))
    again = subprocess.run([SEARCH, "study", "rf", "--n-trials", "3", "--storage", storage], cwd=workdir,
                           env=cli_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Resumed" in again.stdout and "added 3." in again.stdout
    mine = [t for t in finished_trials(storage, "random-forest")[before:] if t.state.name != "FAIL"]
    assert len(mine) == 3, "the resumed command added exactly its trials"
    assert_runs_match_trials(tracking_uri, storage, "random-forest")


def test_kill_9_mid_trial_then_resume_leaves_nothing_running(workdir, stores):
    storage, tracking_uri = stores
    _kill_mid_trial_then_resume(workdir, storage, tracking_uri, [])


@pytest.mark.system
def test_kill_9_mid_trial_then_resume_on_postgresql(workdir, tracking_uri, postgres_url):
    _kill_mid_trial_then_resume(workdir, postgres_url, tracking_uri, [])


def test_a_killed_worker_is_replaced_and_its_trial_retried(workdir, stores):
    storage, tracking_uri = stores
    terminal = Terminal(["study", "knn", "--n-trials", "30", "--workers", "3", "--no-progress"], workdir)
    try:
        wait_for_trials(terminal, storage, "knn", 4)
        workers = [int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(terminal.pid), "-f", "search"], capture_output=True, text=True).stdout.split()]
        running = [t for t in optuna.load_study(study_name="knn", storage=storage).trials
                   if t.state.name == "RUNNING" and t.user_attrs.get("search", {}).get("worker", "").endswith(
                       tuple(f":{pid}" for pid in workers))]
        victim = int(running[0].user_attrs["search"]["worker"].rsplit(":", 1)[1]) if running else workers[0]
        os.kill(victim, signal.SIGKILL)
        code = terminal.wait(240)
    finally:
        terminal.kill()
    assert code == 0, terminal.text
    assert "Traceback" not in terminal.text and f"pid {victim}) failed: killed by signal 9" in terminal.text
    trials = optuna.load_study(study_name="knn", storage=storage).trials
    counted = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 30, "the others added the command's 30 trials"
    assert_runs_match_trials(tracking_uri, storage, "knn")


# -- commands at once -----------------------------------------------------------------------------------


def test_four_commands_with_two_workers_each_add_exactly_forty_trials(workdir):
    processes = [
        subprocess.Popen([SEARCH, "study", "knn", "--n-trials", "10", "--workers", "2", "--no-progress"],
                         cwd=workdir, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for process in processes:
        _, err = process.communicate(timeout=400)
        assert process.returncode == 0, err
    storage, tracking_uri = f"sqlite:///{workdir / 'optuna.db'}", f"sqlite:///{workdir / 'mlflow.db'}"
    assert len(finished_trials(storage, "knn")) == 40
    assert_runs_match_trials(tracking_uri, storage, "knn")
    assert len(experiment_runs(tracking_uri, "knn")[1]) == 40


# -- a tracking server that dies -------------------------------------------------------------------------


def test_a_tracking_server_that_dies_costs_seconds_and_search_sync_logs_the_rest(workdir, migrated_mlflow_db, tmp_path):
    import shutil

    shutil.copyfile(migrated_mlflow_db, tmp_path / "server.db")
    server = MlflowServer(f"sqlite:///{tmp_path / 'server.db'}", tmp_path).start()
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    terminal = Terminal(["study", "rf", "--n-trials", "14", "--seed", "2", "--tracking-uri", server.url,
                         "--no-progress"], workdir)
    try:
        wait_for_trials(terminal, storage, "random-forest", 3)
        server.stop()  # for the rest of the study
        terminal.wait(400)
        exited = time.time()
    finally:
        terminal.kill()
        server.stop()
    assert terminal.code == 0, terminal.text
    last = max(t.datetime_complete for t in finished_trials(storage, "random-forest"))
    assert "Traceback" not in terminal.text and "View run" not in terminal.text
    assert "MLflow did not take trials" in terminal.text and "search sync random-forest" in terminal.text
    unlogged = set(optuna.load_study(study_name="random-forest", storage=storage).user_attrs["mlflow_unlogged_trials"])
    assert unlogged, "some trials finished after the server died"
    assert exited - last.timestamp() < 60, "the command ended within a minute of its last trial"

    server.start()
    try:
        logged = {int(r.data.tags["number"]) for r in experiment_runs(server.url, "random-forest")[1]}
        assert not logged & unlogged, "the unlogged list is true: none of them reached the server"
        first = subprocess.run([SEARCH, "sync", "random-forest", "--tracking-uri", server.url], cwd=workdir,
                               env=cli_env(), capture_output=True, text=True, timeout=240)
        assert first.returncode == 0, first.stderr
        assert "that had no run" in first.stdout
        assert_runs_match_trials(server.url, storage, "random-forest")
        second = subprocess.run([SEARCH, "sync", "random-forest", "--tracking-uri", server.url], cwd=workdir,
                                env=cli_env(), capture_output=True, text=True, timeout=240)
        assert second.returncode == 0 and "Every finished trial has exactly one complete run." in second.stdout
    finally:
        server.stop()


def test_credentials_in_the_tracking_uri_reach_a_server_behind_basic_auth(workdir, tmp_path, run_cli):
    password = "Wh1sper-Quietly-42"
    server = MlflowServer("sqlite:///server.db", tmp_path, "--app-name", "basic-auth",
                          env={"MLFLOW_AUTH_ADMIN_PASSWORD": password,
                               "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key"}).start()
    try:
        refused = run_cli("study", "knn", "--n-trials", "1", "--tracking-uri", server.url)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr and len(refused.stderr.splitlines()) == 1
        uri = server.url.replace("http://", f"http://admin:{password}@")
        result = run_cli("study", "knn", "--n-trials", "2", "--tracking-uri", uri)
        assert result.returncode == 0, result.stderr
        assert password not in result.stdout + result.stderr and "admin:***@" in result.stdout
        assert len(experiment_runs(uri, "knn")[1]) == 2
    finally:
        server.stop()


# -- names MLflow filters must quote ---------------------------------------------------------------------


def test_a_study_name_with_quotes_and_backslashes_resumes_into_one_parent_run(run_cli, tracking_uri):
    name = "bob's \\\\ study"
    assert run_cli("study", "knn", "--n-trials", "1", "--study-name", name).returncode == 0
    again = run_cli("study", "knn", "--n-trials", "1", "--study-name", name)
    assert again.returncode == 0, again.stderr
    parents, children = experiment_runs(tracking_uri, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED" and len(children) == 2


def test_no_run_is_left_running_after_a_normal_study_against_a_server(run_cli, mlflow_server):
    result = run_cli("study", "knn", "--n-trials", "3", "--tracking-uri", mlflow_server.url)
    assert result.returncode == 0, result.stderr
    assert "View run" not in result.stdout + result.stderr and "🏃" not in result.stdout
    assert {r.info.status for r in all_runs(mlflow_server.url, "knn")} <= {"FINISHED", "KILLED"}
