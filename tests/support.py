"""What the tests share besides fixtures: the repository's paths, the installed CLI, reading runs back,
the CML rehearsal's project, and system parts that may be missing (`require_system`).

Tests import it as ``support``; pytest's ``conftest`` holds the fixtures only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


ARTIFACTS = REPO / "test-artifacts"


PYTHON = sys.executable


SEARCH = shutil.which("search", path=str(Path(sys.executable).parent)) or "search"


#: Options for a study whose best model and figures are not under test: they cost a second per command.
QUICK = ("--no-log-model", "--no-figures")


def require_system(available: bool, reason: str) -> None:  # noqa: FBT001 - a condition, then why
    """Skip (or, in CI, fail) when a system part is missing."""
    if available:
        return
    if os.environ.get("SEARCH_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"required system part missing: {reason}")
    pytest.skip(reason)


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


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}>"


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


PG = ("127.0.0.1", 5432)


REDIS = ("127.0.0.1", 6379)


def listening(address) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


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
