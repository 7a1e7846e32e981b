"""Rehearsal of the CML launch: the AMP's tasks played in order, then checked against the real running UI.

CML is not available here, so this plays ``.project-metadata.yaml`` the way CML
does, with real processes: each ``run_job`` runs its job's script in a
subprocess with the project's and the task's environment variables, from the
project root; ``start_application`` starts ``cml/mlflow_ui.py`` with
``CDSW_APP_PORT`` set to a free port. The project is a temporary copy of
``cml/`` and the metadata (the toolkit is imported from the installed package),
so the embedded stores land there, not in the repository. CML's own
``MLFLOW_TRACKING_URI`` is set to an unreachable server, as a reminder that the
project's variables, not CML's, decide where the runs go.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from support import (
    ARTIFACTS,
    CDSW_DOMAIN,
    CML_OWN_TRACKING,
    CML_STANDIN,
    MODEL_BUILD_SCRIPT,
    PYTHON,
    REPO,
    copy_project,
    free_port,
    page_text,
    project_env,
)

import project
import studies

pytestmark = pytest.mark.slow

N_TRIALS = 2
CML_HOST = f"{project.APP_SUBDOMAIN}.{CDSW_DOMAIN}"
INSTALL_SCRIPT = "cml/install_dependencies.py"
JOB_TIMEOUT = 240
READY_TIMEOUT = 120
STOP_TIMEOUT = 30


# -- playing the AMP ------------------------------------------------------------------------------


@dataclass
class App:
    process: subprocess.Popen
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Endpoint:
    """A deployed model, served by the stand-in for CML's model endpoint (tests/cml_standin/model_endpoint.py)."""

    process: subprocess.Popen
    port: int
    access_key: str
    build: dict  # its build_model task

    def call(self, request_body, access_key: str | None = None) -> dict:
        """POST /model as a client of CML does: ``{"accessKey": ..., "request": ...}``."""
        body = {"accessKey": self.access_key if access_key is None else access_key, "request": request_body}
        status, _, content = request(self.port, "POST", "/model", body=body)
        return {"status": status, **json.loads(content)}


@dataclass
class Launch:
    root: Path
    env: dict[str, str]
    metadata: dict
    jobs: dict[str, dict] = field(default_factory=dict)  # entity_label -> its create_job task
    results: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    app: App | None = None
    models: dict[str, dict] = field(default_factory=dict)  # entity_label -> its create_model task
    builds: dict[str, dict] = field(default_factory=dict)  # entity_label -> its build_model task
    build_folders: dict[str, Path] = field(default_factory=dict)  # entity_label -> what its build holds
    built_champion: str = ""  # the champion version the registry held when the model was built
    endpoints: dict[str, Endpoint] = field(default_factory=dict)


def installed() -> bool:
    try:
        importlib.metadata.version(project.DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def run_job(launch: Launch, label: str, *, arguments: str | None = None, cwd: Path | None = None):
    job = launch.jobs[label]
    args = shlex.split(job.get("arguments") or "" if arguments is None else arguments)
    return subprocess.run(
        [PYTHON, str(launch.root / job["script"]), *args], cwd=cwd or launch.root,
        env={**launch.env, **(job.get("environment") or {})}, capture_output=True, text=True, timeout=JOB_TIMEOUT,
    )


def start_app(root: Path, task: dict, env: dict[str, str], log: Path) -> App:
    port = free_port()
    env = {**env, **(task.get("environment_variables") or {}), "CDSW_APP_PORT": str(port)}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [PYTHON, str(root / task["script"])], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so nothing it starts can outlive the test
        )
    app = App(process, port, log)
    wait_until_ready(app)
    return app


def wait_until_ready(app: App) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            pytest.fail(f"the app exited with {app.process.returncode}:\n{app.log_text()[-3000:]}")
        try:
            if request(app.port, "GET", "/")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the app did not answer GET / within {READY_TIMEOUT} s:\n{app.log_text()[-3000:]}")


def stop_app(app: App) -> None:
    """SIGTERM the app as CML stops it; whatever is left of its process group is killed."""
    if app.process.poll() is None:
        app.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.process.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(app.process.pid, signal.SIGKILL)
    app.process.wait()


def build_model(root: Path, task: dict) -> Path:
    """The model's build as CML makes it: the project's files but those ``.gitignore`` lists, in a folder of its own.

    The build script is checked, not run: here the toolkit is already installed
    (as the install job is skipped), and it would reinstall it over the test's own.
    """
    syntax = subprocess.run(["bash", "-n", str(root / MODEL_BUILD_SCRIPT)], capture_output=True, text=True)
    assert syntax.returncode == 0, f"{MODEL_BUILD_SCRIPT}: {syntax.stderr}"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    build = root.parent / f"build-{task['entity_label']}"
    for name in filter(None, listed):
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, build / name)
    target = build / task["target_file_path"]
    assert target.is_file(), f"build_model: {task['target_file_path']} does not exist"
    assert f"def {task['target_function_name']}(" in target.read_text()
    return build


def deploy_model(root: Path, build: dict, task: dict, env: dict[str, str], logs: Path) -> Endpoint:
    """Start the stand-in model endpoint on the build's target function, with the deployment's environment."""
    port, access_key = free_port(), uuid.uuid4().hex
    log = logs / f"model-{build['entity_label']}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [PYTHON, str(CML_STANDIN / "model_endpoint.py"), str(root), build["target_file_path"],
             build["target_function_name"], str(port), access_key],
            cwd=root, env={**env, **(task.get("environment_variables") or {})}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the model endpoint exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Endpoint(process, port, access_key, build)
        time.sleep(0.2)
    pytest.fail(f"the model endpoint did not listen within {READY_TIMEOUT} s")


def play(root: Path, env: dict[str, str], log: Path) -> Launch:
    """The tasks of .project-metadata.yaml, in order, as CML runs them at launch."""
    metadata = yaml.safe_load((root / project.METADATA_FILE).read_text())
    launch = Launch(root, env, metadata)
    for task in metadata["tasks"]:
        kind = task["type"]
        if kind == "create_job":
            launch.jobs[task["entity_label"]] = task
        elif kind == "run_job":
            label = task["entity_label"]
            if launch.jobs[label]["script"] == INSTALL_SCRIPT and installed():
                launch.skipped.append(label)  # already installed here; CI installs the package first
                continue
            result = launch.results[label] = run_job(launch, label)
            assert result.returncode == 0, f"job {label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        elif kind == "start_application":
            assert launch.app is None, "one application"
            launch.app = start_app(root, task, env, log)
        elif kind == "create_model":
            launch.models[task["entity_label"]] = task
        elif kind == "build_model":
            assert task["entity_label"] in launch.models, "a model is built after it is created"
            launch.build_folders[task["entity_label"]] = build_model(root, task)
            launch.built_champion = champion_version(root)
            launch.builds[task["entity_label"]] = task
        elif kind == "deploy_model":
            label = task["entity_label"]
            assert label in launch.builds, "a model is deployed after it is built"
            launch.endpoints[label] = deploy_model(launch.build_folders[label], launch.builds[label], task, env,
                                                   log.parent)
        else:
            pytest.fail(f"the rehearsal cannot play task type {kind!r}")
    return launch


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory):
    root = copy_project(tmp_path_factory.mktemp("cml") / "project")
    metadata = yaml.safe_load((root / project.METADATA_FILE).read_text())
    log = root.parent / "mlflow-ui.log"
    launched = None
    try:
        launched = play(root, project_env(metadata, SEARCH_N_TRIALS=str(N_TRIALS)), log)
        assert launched.app is not None, "the AMP starts the MLflow UI"
        yield launched
    finally:
        if launched is not None and launched.app is not None:
            stop_app(launched.app)
        for endpoint in (launched.endpoints.values() if launched is not None else ()):
            endpoint.process.kill()
            endpoint.process.wait()
        if log.exists():
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(log, ARTIFACTS / "cml-mlflow-ui.log")


# -- talking to the UI ----------------------------------------------------------------------------


def request(port: int, method: str, path: str, *, host: str | None = None, body: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": host} if host else {}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def api(port: int, method: str, path: str, body: dict | None = None) -> dict:
    status, _, content = request(port, method, f"/api/2.0/mlflow/{path}", body=body)
    assert status == 200, f"{method} {path}: HTTP {status}: {content[:500]!r}"
    return json.loads(content or b"{}")


def experiment_ids(port: int) -> dict[str, str]:
    experiments = api(port, "GET", "experiments/search?max_results=1000").get("experiments", [])
    return {e["name"]: e["experiment_id"] for e in experiments}


def study_runs(port: int, experiment_id: str) -> tuple[list[dict], dict[str, list[dict]]]:
    """The experiment's parent (study) runs, and its runs by parent run id, as the UI's API lists them."""
    runs = api(port, "POST", "runs/search", {"experiment_ids": [experiment_id], "max_results": 1000}).get("runs", [])
    by_parent: dict[str, list[dict]] = {}
    parents = []
    for run in runs:
        tags = {tag["key"]: tag["value"] for tag in run.get("data", {}).get("tags", [])}
        if tags.get("search.role") == "study":
            parents.append(run)
        if "mlflow.parentRunId" in tags:
            by_parent.setdefault(tags["mlflow.parentRunId"], []).append(run)
    return parents, by_parent


def trial_count(root: Path, study: str) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return len(optuna.load_study(study_name=study, storage=f"sqlite:///{root / 'optuna.db'}").trials)


def process_tree(pid: int) -> list[int]:
    """``pid``'s descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- the launch -----------------------------------------------------------------------------------


def test_study_job_runs_one_study_per_model_into_the_projects_embedded_stores(launch: Launch) -> None:
    output = launch.results["run_studies"].stdout
    for model in ("knn", "random-forest"):
        assert f"Study '{model}': {model} on synthetic" in output
    assert output.count(f"Ran {N_TRIALS} trials.") == 2
    # Each study's address in CML's application, on the view that shows its runs.
    assert output.count(f"See it in the MLflow UI: https://{CML_HOST}/#/experiments/") == 2
    assert f"'MLflow UI' application: https://{CML_HOST}/#/experiments?workflowType=machine_learning" in output
    # CML's MLFLOW_TRACKING_URI is ignored: blank SEARCH_TRACKING_URI is the project's own store.
    assert f"MLflow: sqlite:///{launch.root / 'mlflow.db'}," in output
    assert f"storage sqlite:///{launch.root / 'optuna.db'}" in output
    assert (launch.root / "mlflow.db").is_file() and (launch.root / "optuna.db").is_file()


def test_ui_answers_cml_health_check_at_root(launch: Launch) -> None:
    status, content_type, body = request(launch.app.port, "GET", "/")
    assert status == 200
    assert content_type.startswith("text/html") and b"<html" in body.lower()


def test_ui_lists_each_study_with_one_parent_run_and_one_child_run_per_trial(launch: Launch) -> None:
    experiments = experiment_ids(launch.app.port)
    for study in ("knn", "random-forest"):
        assert study in experiments, f"no experiment {study!r} in {sorted(experiments)}"
        parents, by_parent = study_runs(launch.app.port, experiments[study])
        assert [run["info"]["run_name"] for run in parents] == [study], "one parent run per study"
        children = by_parent.get(parents[0]["info"]["run_id"], [])
        trials = trial_count(launch.root, study)
        assert trials >= N_TRIALS
        assert len(children) == trials, f"{study}: {len(children)} child runs for {trials} trials"
        assert sum(len(runs) for runs in by_parent.values()) == trials, "every child run belongs to the study run"


@pytest.mark.parametrize("host", ["evil.example.com", "10.0.0.5:{port}", f"{CML_HOST}.evil.example.com"])
def test_ui_refuses_a_foreign_host_header(launch: Launch, host: str) -> None:
    # 10.0.0.5 is a private address MLflow would allow by default; only CML's host and loopback are served.
    status, _, _ = request(launch.app.port, "GET", "/", host=host.format(port=launch.app.port))
    assert status == 403


def test_ui_serves_the_cml_host_header(launch: Launch) -> None:
    status, _, _ = request(launch.app.port, "GET", "/", host=CML_HOST)
    assert status == 200
    status, _, body = request(
        launch.app.port, "GET", "/api/2.0/mlflow/experiments/search?max_results=10", host=CML_HOST
    )
    assert status == 200 and b'"knn"' in body


@pytest.mark.system
def test_browser_shows_the_study_experiment_and_its_runs(launch: Launch, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id = experiment_ids(launch.app.port)["knn"]
    parents, by_parent = study_runs(launch.app.port, experiment_id)
    parent_id = parents[0]["info"]["run_id"]
    child_ids = {run["info"]["run_id"] for run in by_parent[parent_id]}
    driver = browser
    try:
        # A first-time visitor opens the application's front page and clicks the study's experiment:
        # they land on its training runs, not on MLflow's GenAI overview ("Traces 0").
        driver.get(f"http://127.0.0.1:{launch.app.port}/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: "workflowType=machine_learning" in d.current_url and d.find_elements(By.LINK_TEXT, "knn"))
        driver.find_element(By.LINK_TEXT, "knn").click()

        def rows() -> set[str]:
            return {row.get_attribute("row-id") for row in driver.find_elements(By.CSS_SELECTOR, "[role=row][row-id]")}

        wait.until(lambda d: parent_id in rows() and f"{1 + len(child_ids)} matching runs" in page_text(d))
        assert "genai" not in driver.current_url and f"/experiments/{experiment_id}" in driver.current_url
        assert "knn" in page_text(driver)
        parent_row = driver.find_element(By.CSS_SELECTOR, f"[role=row][row-id='{parent_id}']")
        parent_row.find_element(By.CSS_SELECTOR, "button[data-component-id*='runnamecellrenderer']").click()
        wait.until(lambda d: child_ids <= rows())  # the study run expands into one row per trial
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "cml-mlflow-ui.png"))


def test_running_the_study_job_again_resumes_the_studies(launch: Launch) -> None:
    before = {study: trial_count(launch.root, study) for study in ("knn", "random-forest")}
    result = run_job(launch, "run_studies")
    assert result.returncode == 0, result.stderr[-3000:]
    experiments = experiment_ids(launch.app.port)
    for study, trials in before.items():
        assert f"Resumed: the study already had {trials} trials; added {N_TRIALS}." in result.stdout
        parents, by_parent = study_runs(launch.app.port, experiments[study])
        assert len(parents) == 1, f"{study}: still one parent run"
        assert len(by_parent[parents[0]["info"]["run_id"]]) == trials + N_TRIALS


def test_study_job_finds_the_project_stores_from_any_working_directory(launch: Launch, tmp_path: Path) -> None:
    before = trial_count(launch.root, "knn")
    result = run_job(launch, "run_studies", arguments="knn --n-trials 1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resumed: the study already had {before} trials; added 1." in result.stdout
    assert "random-forest" not in result.stdout, "job arguments choose the models"
    assert not list(tmp_path.iterdir()), "nothing is written to the working directory"


def test_stopping_the_app_stops_the_mlflow_server(launch: Launch) -> None:
    task = next(task for task in launch.metadata["tasks"] if task["type"] == "start_application")
    app = start_app(launch.root, task, launch.env, launch.root.parent / "mlflow-ui-stop.log")
    try:
        tree = process_tree(app.process.pid)
        assert tree, "the app runs the MLflow server as a child"
        app.process.terminate()
        assert app.process.wait(timeout=STOP_TIMEOUT) is not None
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(running(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in tree if running(pid)], "the server's processes outlive the app"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", app.port), timeout=5).close()
    finally:
        stop_app(app)


# -- the champion served as a CML model ----------------------------------------------------------


def champion_version(root: Path) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    return client.get_model_version_by_alias("search-champion", "champion").version


def test_the_model_is_built_from_what_cml_copies_and_serves_the_exported_champion(launch: Launch) -> None:
    build = launch.build_folders["champion"]
    assert not (build / "mlflow.db").exists() and not (build / "optuna.db").exists(), ".gitignore keeps them out"
    assert (build / "champion" / "champion.json").is_file(), "the study job exported the champion into the project"
    assert "Exported the champion, search-champion version" in launch.results["run_studies"].stdout
    answer = launch.endpoints["champion"].call({"features": [[0.0] * 20]})
    assert answer["response"]["model"] == f"search-champion version {launch.built_champion} (champion)"


def test_deployed_model_answers_its_example_requests_with_the_champion(launch: Launch) -> None:
    endpoint = launch.endpoints["champion"]
    examples = endpoint.build["examples"]
    assert examples, "the build shows callers an example"
    for example in examples:
        answer = endpoint.call(example["request"])
        assert answer["status"] == 200 and answer["success"] is True, answer
        response = answer["response"]
        assert "error" not in response, response
        assert set(response) == set(example["response"]), "the example response shows every field"
        rows = len(example["request"]["features"])
        assert len(response["predictions"]) == rows and len(response["probabilities"]) == rows
        assert set(response["predictions"]) <= set(response["classes"]) == {0, 1}
        assert all(abs(sum(p) - 1) < 1e-9 for p in response["probabilities"])
        assert response["model"] == f"search-champion version {launch.built_champion} (champion)"


def test_deployed_model_takes_records_with_column_names(launch: Launch) -> None:
    endpoint = launch.endpoints["champion"]
    row = endpoint.build["examples"][0]["request"]["features"][0]
    by_rows = endpoint.call({"features": [row, row]})["response"]
    by_records = endpoint.call({"records": [{f"x{i}": v for i, v in enumerate(row)}] * 2})["response"]
    bare_records = endpoint.call([{f"x{i}": v for i, v in reversed(list(enumerate(row)))}])["response"]
    assert by_rows["predictions"] == by_records["predictions"] and len(by_rows["predictions"]) == 2
    assert by_records["probabilities"] == by_rows["probabilities"]
    assert bare_records["predictions"] == by_rows["predictions"][:1], "records may name columns in any order"


def test_deployed_model_fills_in_a_blank_value(launch: Launch) -> None:
    answer = launch.endpoints["champion"].call({"features": [[0.1] * 19 + [None]]})
    assert answer["success"] is True and len(answer["response"]["predictions"]) == 1, answer


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"features": [[0.1, 0.2, 0.3]]}, "row 0 has 3 values; the model takes 20: x0, x1"),
        ({"features": [[0.1] * 19 + ["tall"]]}, "the request has text in the numeric column 'x19'"),
        ({"features": []}, "'features' must be a non-empty list of rows"),
        ({"records": [{"x0": 1.0}]}, "the request lacks the model's column(s) x1, x2"),
        ({"rows": [[1.0]]}, 'no rows to predict: send {"features": '),
        (None, "no rows to predict"),
        ("not json", "the request is text, not JSON"),
        ({"features": [[{"a": 1}] + [0.1] * 19]}, "row 0, 'x0': an object is not a value (give a number, text"),
        ({"features": [[0.1] * 19 + [[1, 2]]]}, "row 0, 'x19': a list is not a value"),
        ({"features": [[True] + [0.1] * 19]}, "the request has true/false in the numeric column 'x0'"),
        ({"features": [[10**400] + [0.1] * 19]}, "row 0, 'x0': a number of 401 digits is too large for the model"),
        ({"features": [[0.1] * 20], "records": [{"x0": 1.0}]}, "the request has both 'features' and 'records'"),
        ("[" * 100_000 + "]" * 100_000, "the request nests its values too deeply"),
    ],
)
def test_deployed_model_answers_a_bad_request_with_a_one_line_error(
    launch: Launch, request_body, expected: str
) -> None:
    answer = launch.endpoints["champion"].call(request_body)
    assert answer["status"] == 200 and answer["success"] is True
    error = answer["response"].get("error", "")
    assert expected in error, answer["response"]
    assert "\n" not in error and "Traceback" not in error and set(answer["response"]) == {"error"}


def test_deployed_model_refuses_a_caller_without_the_access_key(launch: Launch) -> None:
    answer = launch.endpoints["champion"].call({"features": [[0.0] * 20]}, access_key="guess")
    assert answer["status"] == 401 and answer["success"] is False


def test_readme_curl_example_calls_the_model_as_documented(launch: Launch) -> None:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"curl [^\n]*?https://modelservice\.[^\n]*?/model[^']*'(\{.*?\})'", readme, re.S)
    assert match, "the README shows how to call the deployed model with curl"
    body = json.loads(match.group(1))
    endpoint = launch.endpoints["champion"]
    assert set(body) == {"accessKey", "request"}
    answer = endpoint.call(body["request"])
    assert answer["success"] is True and "predictions" in answer["response"], answer


# -- the scripts' own errors ----------------------------------------------------------------------


def test_app_without_a_port_exits_with_one_line_error(launch: Launch) -> None:
    env = {k: v for k, v in launch.env.items() if k not in ("CDSW_APP_PORT", "CDSW_READONLY_PORT")}
    result = subprocess.run([PYTHON, str(launch.root / "cml/mlflow_ui.py")], cwd=launch.root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlflow_ui: error: ") and "CDSW_APP_PORT" in lines[0]


def test_app_refuses_a_tracking_server_uri_in_one_line(launch: Launch) -> None:
    env = {**launch.env, "CDSW_APP_PORT": str(free_port()),
           "SEARCH_TRACKING_URI": "https://user:s3cret@tracking.example.com"}
    result = subprocess.run([PYTHON, str(launch.root / "cml/mlflow_ui.py")], cwd=launch.root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlflow_ui: error: SEARCH_TRACKING_URI is a tracking server")
    assert "s3cret" not in result.stderr


def test_study_job_rejects_a_bad_setting_before_running_any_study(launch: Launch) -> None:
    result = run_job(launch, "run_studies", arguments="knn no-such-model")
    assert result.returncode == 2
    assert result.stdout == "", "no study started"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_studies: error: ") and "no-such-model" in lines[0]


def test_install_job_fails_loudly_when_the_install_fails(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    (root / "pyproject.toml").write_text("[project\nname = 'broken'\n")  # pip cannot read it
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run([PYTHON, str(root / INSTALL_SCRIPT)], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("install_dependencies: error: pip install failed")


# -- settings the jobs and the UI share -----------------------------------------------------------


def test_blank_store_settings_mean_the_projects_embedded_stores_not_cmls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", CML_OWN_TRACKING)
    monkeypatch.setenv("SEARCH_TRACKING_URI", " ")
    monkeypatch.setenv("SEARCH_STORAGE", "")
    assert studies.tracking(tmp_path).url == f"sqlite:///{tmp_path}/mlflow.db"
    assert studies.storage(tmp_path).url == f"sqlite:///{tmp_path}/optuna.db"


def test_relative_stores_are_anchored_at_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    monkeypatch.setenv("SEARCH_TRACKING_URI", "sqlite:///stores/mlflow.db")
    monkeypatch.setenv("SEARCH_STORAGE", "stores/optuna.journal")
    assert studies.tracking(tmp_path).url == f"sqlite:///{tmp_path}/stores/mlflow.db"
    assert studies.storage(tmp_path).url == f"{tmp_path}/stores/optuna.journal"
    monkeypatch.setenv("SEARCH_STORAGE", "postgresql://user@db.example.com/optuna")
    assert studies.storage(tmp_path).url == "postgresql://user@db.example.com/optuna"


def test_project_root_is_found_above_the_script_not_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    assert project.project_root(str(root / "cml" / "mlflow_ui.py")) == root.resolve()
    monkeypatch.chdir(root / "cml")  # CML's engine may run a script without __file__, from the project
    assert project.project_root(None) == root.resolve()


def test_ui_allows_cml_host_and_loopback_on_its_port_only() -> None:
    assert project.allowed_hosts(8090, "ML-1.Example.Site.") == [
        "mlflow.ml-1.example.site", "127.0.0.1:8090", "localhost:8090"
    ]
    assert project.allowed_hosts(8090, None) == ["127.0.0.1:8090", "localhost:8090"]
    with pytest.raises(ValueError):
        project.allowed_hosts(8090, "*.example.site")  # MLflow would read a pattern


def test_app_port_falls_back_to_the_readonly_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDSW_APP_PORT", raising=False)
    monkeypatch.setenv("CDSW_READONLY_PORT", "8100")
    assert project.app_port() == 8100
    monkeypatch.setenv("CDSW_APP_PORT", "8090")
    assert project.app_port() == 8090


def test_ui_also_serves_the_host_search_ui_host_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_UI_HOST", "MLflow-Team.ml-1.example.site")
    assert project.allowed_hosts(8090, "ml-1.example.site") == [
        "mlflow-team.ml-1.example.site", "mlflow.ml-1.example.site", "127.0.0.1:8090", "localhost:8090"
    ]
    monkeypatch.setenv("CDSW_DOMAIN", "ml-1.example.site")
    assert project.app_address() == "https://mlflow-team.ml-1.example.site", "the job prints the address it serves"
    monkeypatch.setenv("SEARCH_UI_HOST", "https://mlflow-team.ml-1.example.site/")
    assert project.ui_host() == "mlflow-team.ml-1.example.site", "an address pasted from the browser is its host"
    monkeypatch.setenv("SEARCH_UI_HOST", "https://bob:s3cret@mlflow-team.ml-1.example.site/")
    assert project.ui_host() == "mlflow-team.ml-1.example.site", "never the credentials"
    monkeypatch.setenv("SEARCH_UI_HOST", "https://bob:s3cret@mlflow team")
    with pytest.raises(project.SettingError) as refused:
        project.ui_host()
    assert "s3cret" not in str(refused.value)
    for bad in ("*.example.site", "mlflow team", "host:port"):
        monkeypatch.setenv("SEARCH_UI_HOST", bad)
        with pytest.raises(project.SettingError, match="SEARCH_UI_HOST must be a host name"):
            project.allowed_hosts(8090, "ml-1.example.site")


def load_model_file(name: str):
    """``cml/predict.py`` imported afresh, as the model runtime imports it (its champion not loaded yet)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "cml" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_without_a_champion_answers_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_mlflow_db: Path
) -> None:
    root = copy_project(tmp_path / "project")
    shutil.copyfile(migrated_mlflow_db, root / "mlflow.db")
    monkeypatch.setattr(project, "project_root", lambda script=None: root)
    monkeypatch.delenv("SEARCH_TRACKING_URI", raising=False)
    monkeypatch.setenv("SEARCH_REGISTER", "nobody-registered-this")
    model = load_model_file("predict_without_champion")
    assert model.predict({"features": [[0.0] * 20]}) == {
        "error": "registered model 'nobody-registered-this' has no champion yet: run the study job first"
    }
    monkeypatch.setenv("SEARCH_REGISTER", "")
    assert model.predict({"features": [[0.0] * 20]}) == {
        "error": "SEARCH_REGISTER is blank: set it to the registered model the studies register"
    }
