"""Shared fixtures: real stores in a temp dir, the installed CLI, and system parts that may be missing.

What tests share besides fixtures is in ``support.py`` (tests import that, never this module).
Tests that need a part a user's machine may lack (PostgreSQL, Redis, chromium) call
`support.require_system`; it skips with the reason, unless SEARCH_REQUIRE_SYSTEM=1 (CI sets it),
where a missing part fails the test instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support import PG, REDIS, REPO, SEARCH, MlflowServer, Result, cli_env, listening, pip_install, require_system

# The CML scripts import their settings module (cml/project.py) from beside them, as CML runs them.
sys.path.insert(0, str(REPO / "cml"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory; the embedded default stores land here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SEARCH_STORAGE", raising=False)
    return tmp_path


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


@pytest.fixture
def run_cli(workdir: Path):
    """Run the installed ``search`` console script in the working directory."""

    def run(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [SEARCH, *args], cwd=workdir, env=cli_env(**env), capture_output=True, text=True, timeout=timeout
        )

    return run


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


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path):
    """A running ``mlflow server`` on a fresh sqlite backend store."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(migrated_mlflow_db, folder / "server.db")
    server = MlflowServer(f"sqlite:///{folder / 'server.db'}", folder).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url():
    require_system(listening(PG), "PostgreSQL is not listening on 127.0.0.1:5432")
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
    require_system(listening(REDIS), "Redis is not listening on 127.0.0.1:6379")
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
