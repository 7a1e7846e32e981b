"""Shared fixtures: real stores in a temp dir, the installed CLI, and system parts that may be missing.

Tests that need a part a user's machine may lack (PostgreSQL, Redis, chromium)
call `require_system`; it skips with the reason, unless SEARCH_REQUIRE_SYSTEM=1
(CI sets it), where a missing part fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
PYTHON = sys.executable
SEARCH = shutil.which("search", path=str(Path(sys.executable).parent)) or "search"
# The CML scripts import their settings module (cml/project.py) from beside them, as CML runs them.
sys.path.insert(0, str(REPO / "cml"))


#: Options for a study whose best model and figures are not under test: they cost a second per command.
QUICK = ("--no-log-model", "--no-figures")


def require_system(available: bool, reason: str) -> None:  # noqa: FBT001 - a condition, then why
    """Skip (or, in CI, fail) when a system part is missing."""
    if available:
        return
    if os.environ.get("SEARCH_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"required system part missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory; the embedded default stores land here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SEARCH_STORAGE", raising=False)
    return tmp_path


def pip_install(plugin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``plugin`` pip-installed into its own directory (not into the test environment)."""
    source = tmp_path_factory.mktemp("plugin") / "src"
    shutil.copytree(plugin, source)  # builds write beside the source: keep them out of the repo
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example third-party plugin (tests/plugin_example), installed once: add it to PYTHONPATH."""
    return pip_install(REPO / "tests" / "plugin_example", tmp_path_factory)


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store as the toolkit makes one, created once: MLflow's migrations take seconds."""
    from search.stores.tracking_store import prepare_tracking_store
    from search.stores.urls import Store

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    prepare_tracking_store(Store.parse(f"sqlite:///{path}"))
    return path


@pytest.fixture
def tracking_uri(workdir: Path, migrated_mlflow_db: Path) -> str:
    """A fresh, real MLflow sqlite store at ./mlflow.db, where the CLI looks by default."""
    shutil.copyfile(migrated_mlflow_db, workdir / "mlflow.db")
    return f"sqlite:///{workdir / 'mlflow.db'}"


@pytest.fixture
def storage(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'optuna.db'}"


@pytest.fixture
def client(tracking_uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri)


def free_port() -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def all_runs(tracking_uri_or_client, experiment_name: str) -> list:
    """Every run of an experiment, read with MlflowClient (from a tracking URI or a client)."""
    from mlflow import MlflowClient

    client = (
        MlflowClient(tracking_uri_or_client) if isinstance(tracking_uri_or_client, str) else tracking_uri_or_client
    )
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None, f"no experiment {experiment_name!r}"
    return list(client.search_runs([experiment.experiment_id], max_results=5000))


def experiment_runs(tracking_uri_or_client, experiment_name: str) -> tuple[list, list]:
    """The study (parent) runs and the trial (child) runs of an experiment."""
    runs = all_runs(tracking_uri_or_client, experiment_name)
    parents = [r for r in runs if r.data.tags.get("search.role") == "study"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SEARCH_STORAGE")}
    env.update(extra)
    return env


@pytest.fixture
def run_cli(workdir: Path):
    """Run the installed ``search`` console script in the working directory."""

    def run(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [SEARCH, *args], cwd=workdir, env=cli_env(**env), capture_output=True, text=True, timeout=timeout
        )

    return run


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}>"


@pytest.fixture
def search_cli(workdir: Path, capsys: pytest.CaptureFixture):
    """Run ``search`` in this process (fast: MLflow and friends are imported once)."""
    from search.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


class MlflowServer:
    """A real ``mlflow server`` process on 127.0.0.1, for tests where a tracking server matters.

    ``stop`` kills it (as a crash would); ``start`` again serves the same backend store on the same port.
    """

    def __init__(self, backend_uri: str, workdir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.backend_uri, self.workdir, self.extra = backend_uri, workdir, extra
        self.env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = workdir / f"mlflow-server-{self.port}.log"

    def start(self, timeout: float = 120) -> MlflowServer:
        import time
        import urllib.request

        command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.backend_uri,
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1", *self.extra]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(command, cwd=self.workdir, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"mlflow server did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path):
    """A running ``mlflow server`` on a fresh sqlite backend store."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(migrated_mlflow_db, folder / "server.db")
    server = MlflowServer(f"sqlite:///{folder / 'server.db'}", folder).start()
    yield server
    server.stop()


PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def _listening(address) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url():
    require_system(_listening(PG), "PostgreSQL is not listening on 127.0.0.1:5432")
    import psycopg

    name = f"search_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG[0]}:{PG[1]}/{name}"
    finally:
        with psycopg.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    require_system(_listening(REDIS), "Redis is not listening on 127.0.0.1:6379")
    import redis

    prefix = f"search-test-{uuid.uuid4().hex[:10]}:"
    yield f"redis://{REDIS[0]}:{REDIS[1]}/0?prefix={prefix}"
    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def browser(tmp_path: Path):
    """Headless Debian chromium driven by Selenium (no tool may download a browser here)."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    require_system(bool(chromium and chromedriver), "chromium, chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    yield driver
    driver.quit()


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


# -- a CML project, as the rehearsals play it ------------------------------------------------------

CDSW_DOMAIN = "ml-rehearsal.example.cloudera.site"
CML_OWN_TRACKING = "http://127.0.0.1:9/cml-experiments"  # CML's own tracking; nothing listens there
MODEL_BUILD_SCRIPT = "cdsw-build.sh"  # what CML runs to build a model's image
#: STAND-INS for what only CML has (its workers API, a model endpoint), named as such; tests only.
CML_STANDIN = REPO / "tests" / "cml_standin"


def copy_project(root: Path) -> Path:
    """A CML project: the metadata, ``.gitignore``, ``cml/`` and the model build script (the toolkit is the installed
    one)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".project-metadata.yaml", root / ".project-metadata.yaml")
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    shutil.copy(REPO / MODEL_BUILD_SCRIPT, root / MODEL_BUILD_SCRIPT)
    shutil.copytree(REPO / "cml", root / "cml", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def project_env(metadata: dict, **overrides: str) -> dict[str, str]:
    """This machine's environment as CML would make it: the project's variables at their defaults, and CML's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEARCH_", "MLFLOW_", "CDSW_"))}
    env.update({name: spec["default"] for name, spec in metadata["environment_variables"].items()})
    env.update(MLFLOW_TRACKING_URI=CML_OWN_TRACKING, CDSW_DOMAIN=CDSW_DOMAIN)
    env.update(overrides)
    return env
