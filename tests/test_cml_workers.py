"""Rehearsal of the study job with CML workers (SEARCH_WORKERS above 1).

CML's workers API (``cml.workers_v1``) exists only inside CML, so these tests
put a STAND-IN for it on the job's ``PYTHONPATH`` (tests/cml_standin/cml/):
the same functions, arguments and return shapes, each worker a real local
process running the job's ``code``. Everything else is real: the job script,
the worker script, Optuna's journal file storage, MLflow stores (sqlite, and
PostgreSQL behind a real ``mlflow server``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import ARTIFACTS, CML_STANDIN, PYTHON, MlflowServer, copy_project, experiment_runs, project_env

pytestmark = pytest.mark.slow

JOB = "cml/run_studies.py"
JOB_TIMEOUT = 240
WORKER_LINE = re.compile(
    r"^CML worker (\d) failed \(CML worker (\w+), status (\w+)\): (\d+) of its (\d+) trials finished$", re.M
)


def job_env(root: Path, **settings: str) -> dict[str, str]:
    import yaml

    metadata = yaml.safe_load((root / ".project-metadata.yaml").read_text())
    env = project_env(metadata, **{"SEARCH_MODELS": "knn", "SEARCH_REGISTER": "", **settings})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CML_STANDIN), env.get("PYTHONPATH")]))
    env["CML_STANDIN_DIR"] = str(root.parent / "workers")
    return env


def start_job(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, str(root / JOB), *args], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_job(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(root / JOB), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=JOB_TIMEOUT)


def load_study(root: Path, name: str):
    import optuna

    from search.stores.optuna_storage import open_storage
    from search.stores.urls import Store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(Store.parse(str(root / "optuna.journal")), read_only=True)
    return optuna.load_study(study_name=name, storage=storage)


def worker_logs(root: Path) -> list[str]:
    return [path.read_text() for path in sorted((root.parent / "workers").glob("*.log"))]


@pytest.fixture
def cml_project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.mark.system
def test_four_workers_share_a_study_on_a_fresh_journal_logged_once_to_a_postgresql_tracking_server(
    cml_project: Path, postgres_url: str
) -> None:
    server = MlflowServer(postgres_url, cml_project.parent).start()
    try:
        env = job_env(cml_project, SEARCH_WORKERS="4", SEARCH_N_TRIALS="8", SEARCH_TRACKING_URI=server.url)
        result = run_job(cml_project, env)
        log = result.stdout + result.stderr
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "cml-workers-rehearsal.log").write_text(log)
        assert result.returncode == 0, log[-3000:]
        assert "Started 4 CML workers (2 trials each)" in result.stdout
        assert f"storage {cml_project / 'optuna.journal'}" in result.stdout, "several workers: the journal file"
        assert not (cml_project / "optuna.db").exists()
        assert "Ran 8 trials." in result.stdout
        # A tracking server has its own UI: the job points there, not at the project's application.
        assert f"See it in the MLflow UI: {server.url}/#/experiments/" in result.stdout
        assert f"in the tracking server's MLflow UI: {server.url}/#/experiments?" in result.stdout
        # The job's log shows the whole study's progress: one line per trial, counted to 8.
        assert len(re.findall(r"^trial \d+ ", result.stdout, re.M)) == 8 and "[8 of 8]" in result.stdout

        trials = load_study(cml_project, "knn").trials
        assert len(trials) == 8
        workers = [trial.user_attrs["search"]["worker"] for trial in trials]
        assert len(set(workers)) == 4 and all(workers.count(w) == 2 for w in set(workers)), workers
        logs = worker_logs(cml_project)
        assert len(logs) == 4 and all(re.search(r"ran 2 trials of study 'knn'", text) for text in logs), logs

        parents, children = experiment_runs(server.url, "knn")
        assert len(parents) == 1, "one study run, made by the job before the workers started"
        assert sorted(int(run.data.tags["number"]) for run in children) == list(range(8)), \
            "every trial logged exactly once"
        assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parents[0].info.run_id}
        assert {run.info.status for run in [*parents, *children]} <= {"FINISHED", "KILLED"}
    finally:
        server.stop()


@pytest.mark.system
def test_a_killed_worker_is_reported_and_the_job_runs_its_missing_trials(
    cml_project: Path, postgres_url: str
) -> None:
    # The job writes MLflow itself, here straight into a PostgreSQL backend store.
    env = job_env(cml_project, SEARCH_WORKERS="3", SEARCH_N_TRIALS="9", SEARCH_MODELS="random-forest",
                  SEARCH_TRACKING_URI=postgres_url)
    job = start_job(cml_project, env)
    pids = cml_project.parent / "workers"
    deadline = time.monotonic() + JOB_TIMEOUT
    while len(list(pids.glob("*.pid"))) < 3 or not _trials_started(cml_project):
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.2)
    victim = sorted(pids.glob("*.pid"))[0]
    os.kill(int(victim.read_text()), signal.SIGKILL)
    out, err = job.communicate(timeout=JOB_TIMEOUT)
    assert job.returncode == 0, out[-3000:] + err[-3000:]

    failed = WORKER_LINE.findall(out)
    assert failed and {line[1] for line in failed} == {victim.stem}, out  # the killed one, by its CML id
    _, _, status, finished, share = failed[0]
    assert status == "failed" and share == "3"
    missing = 3 - int(finished)
    made_up = f"This job runs the {missing} trial{'s' if missing > 1 else ''} they did not."
    assert (made_up in out) == (missing > 0), out  # killed after its last trial, it owes none
    assert "Ran 9 trials." in out

    from search.trials import counts_toward_quota

    trials = load_study(cml_project, "random-forest").trials
    assert sum(counts_toward_quota(t) for t in trials) == 9, "the study got every trial asked for"
    assert all(t.state.is_finished() or t.state.name == "WAITING" for t in trials)
    parents, children = experiment_runs(postgres_url, "random-forest")
    assert len(parents) == 1
    finished_trials = sorted(t.number for t in trials if t.state.is_finished())
    assert sorted(int(r.data.tags["number"]) for r in children) == finished_trials
    assert "RUNNING" not in {run.info.status for run in [*parents, *children]}


def _trials_started(root: Path) -> bool:
    if not (root / "optuna.journal").exists():
        return False
    try:
        return any(t.state.name in ("RUNNING", "COMPLETE") for t in load_study(root, "random-forest").trials)
    except KeyError:
        return False


def test_ctrl_c_stops_the_workers_and_ends_every_run(cml_project: Path) -> None:
    env = job_env(cml_project, SEARCH_WORKERS="2", SEARCH_N_TRIALS="40", SEARCH_MODELS="random-forest")
    job = start_job(cml_project, env)
    deadline = time.monotonic() + JOB_TIMEOUT
    while not (cml_project / "optuna.journal").exists() or not _complete(cml_project):
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.2)
    job.send_signal(signal.SIGINT)
    out, err = job.communicate(timeout=60)
    assert job.returncode == 130, out[-2000:] + err[-2000:]
    assert "Stopped the CML workers; every trial they finished is kept and logged." in out
    assert err.strip().splitlines()[-1].startswith("run_studies: interrupted")
    for text in worker_logs(cml_project):
        assert "stopped; its finished trials are in the study" in text and "Traceback" not in text
    trials = load_study(cml_project, "random-forest").trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    parents, children = experiment_runs(f"sqlite:///{cml_project / 'mlflow.db'}", "random-forest")
    assert parents[0].info.status == "KILLED"
    assert len(children) == sum(t.state.is_finished() for t in trials)
    assert "RUNNING" not in {run.info.status for run in children}


def _complete(root: Path) -> bool:
    try:
        return any(t.state.name == "COMPLETE" for t in load_study(root, "random-forest").trials)
    except KeyError:
        return False


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SEARCH_STORAGE": "sqlite:///optuna.db"},
         "2 CML workers on other hosts cannot share the SQLite file"),
        ({"SEARCH_WORKERS": "zero"}, "SEARCH_WORKERS must be a whole number, got 'zero'"),
        ({"SEARCH_WORKERS": "0"}, "SEARCH_WORKERS must be a whole number above 0"),
        ({"SEARCH_WORKER_MEMORY": "-1"}, "SEARCH_WORKER_MEMORY must be a number above 0"),
        ({"SEARCH_N_TRIALS": "0"}, "SEARCH_N_TRIALS must be a whole number above 0, got '0'"),
        ({"SEARCH_TIMEOUT": "nan"}, "SEARCH_TIMEOUT must be a number above 0, got 'nan'"),
        ({"PYTHONPATH": ""}, "SEARCH_WORKERS=2 needs CML's workers API (cml.workers_v1)"),
    ],
)
def test_bad_worker_settings_fail_in_one_line_before_anything_is_created(
    cml_project: Path, settings: dict[str, str], message: str
) -> None:
    env = {**job_env(cml_project, SEARCH_WORKERS="2"), **settings}
    before = sorted(cml_project.iterdir())
    result = run_job(cml_project, env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_studies: error: ") and message in lines[0], lines
    if "SQLite" in message:
        assert "optuna.journal" in lines[0] and "postgresql://" in lines[0], "it names the alternatives"
    assert sorted(cml_project.iterdir()) == before, "nothing is created"
    assert not (cml_project.parent / "workers").exists(), "no worker was launched"


def test_a_worker_refuses_a_study_its_job_did_not_make(cml_project: Path) -> None:
    env = {**job_env(cml_project), "SEARCH_STORAGE": str(cml_project / "optuna.journal")}
    result = subprocess.run([PYTHON, str(cml_project / "cml/study_worker.py"), "knn", "--seed", "1", "--slot", "1",
                             "--n-trials", "2"], cwd=cml_project, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"study_worker: error: no study 'knn' in {cml_project / 'optuna.journal'}: "
                     "the study job makes it before it starts its workers"]


def test_the_standin_is_only_on_the_tests_path() -> None:
    # The real `cml` package exists only inside CML: outside the tests, importing it must fail.
    result = subprocess.run([PYTHON, "-c", "import cml.workers_v1"], capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, cwd="/")
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_a_worker_run_by_hand_looks_where_its_job_keeps_the_study(cml_project: Path) -> None:
    # SEARCH_STORAGE blank with several workers: the job's <project>/optuna.journal, never a new optuna.db.
    env = {**job_env(cml_project, SEARCH_WORKERS="2"), "SEARCH_STORAGE": ""}
    result = subprocess.run([PYTHON, str(cml_project / "cml/study_worker.py"), "knn", "--seed", "1", "--slot", "1",
                             "--n-trials", "2"], cwd=cml_project, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"no study 'knn' in {cml_project / 'optuna.journal'}" in result.stderr
    assert not (cml_project / "optuna.db").exists()
