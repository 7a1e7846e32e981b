"""``.project-metadata.yaml`` is a valid AMP (specification 1.0) that CML can import and launch.

CML reads the file when the project is imported as an Applied ML Prototype and
runs its tasks in order; a missing field, an unknown task type, or a script
that does not exist only shows up there, after the import. These tests catch
them here. The launch itself is rehearsed in test_cml_rehearsal.py.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml
from support import REPO

import project

METADATA = REPO / project.METADATA_FILE

#: What CML requires of each task type it knows (AMP specification 1.0), and the field types.
TASK_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "create_job": {
        "name": str, "entity_label": str, "script": str, "arguments": str, "cpu": (int, float),
        "memory": (int, float), "environment": dict, "short_summary": str,
    },
    "run_job": {"entity_label": str},
    "start_application": {"name": str, "subdomain": str, "script": str, "environment_variables": dict},
    "create_model": {
        "name": str, "entity_label": str, "description": str, "short_summary": str,
        "access_key_environment_variable": str, "default_resources": dict, "default_replication_policy": dict,
    },
    "build_model": {
        "entity_label": str, "comment": str, "target_file_path": str, "target_function_name": str, "kernel": str,
        "examples": list,
    },
    "deploy_model": {"entity_label": str, "cpu": (int, float), "gpu": int, "memory": (int, float)},
}
OTHER_TASK_TYPES = {"run_session"}
#: The settings a user may change at launch, each read by the CML scripts through cml/project.py.
PROJECT_VARIABLES = {
    "SEARCH_MODELS", "SEARCH_N_TRIALS", "SEARCH_TIMEOUT", "SEARCH_TRIAL_TIMEOUT", "SEARCH_TRACKING_URI",
    "SEARCH_STORAGE", "SEARCH_REGISTER", "SEARCH_WORKERS", "SEARCH_WORKER_CPU", "SEARCH_WORKER_MEMORY",
    "SEARCH_UI_HOST",
}


@pytest.fixture(scope="module")
def metadata() -> dict:
    return yaml.safe_load(METADATA.read_text())


@pytest.fixture(scope="module")
def tasks(metadata: dict) -> list[dict]:
    assert isinstance(metadata.get("tasks"), list) and metadata["tasks"], "tasks must be a non-empty list"
    return metadata["tasks"]


def test_top_level_fields_are_present_with_their_types(metadata: dict) -> None:
    for key, limit in (("name", 200), ("description", 2048), ("author", 64)):
        assert isinstance(metadata.get(key), str) and metadata[key].strip(), f"{key} must be a non-empty string"
        assert len(metadata[key]) <= limit, f"{key} is longer than {limit} characters"
    assert str(metadata.get("specification_version")) == "1.0"
    assert metadata.get("prototype_version") is not None and len(str(metadata["prototype_version"])) <= 16


def test_date_is_a_quoted_iso_date(metadata: dict) -> None:
    # Unquoted, YAML would read a datetime.date, which CML rejects: it must stay a "YYYY-MM-DD" string.
    date = metadata.get("date")
    assert isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), f"date must be quoted, got {date!r}"
    datetime.date.fromisoformat(date)


def test_runtime_is_a_python_311_or_newer_workbench_standard_runtime(metadata: dict) -> None:
    runtimes = metadata.get("runtimes")
    assert isinstance(runtimes, list) and runtimes, "runtimes must be a non-empty list"
    for runtime in runtimes:
        assert runtime.get("editor") == "Workbench"
        assert runtime.get("edition") == "Standard"
        version = re.fullmatch(r"Python (\d+)\.(\d+)", str(runtime.get("kernel")))
        assert version and (int(version[1]), int(version[2])) >= (3, 11), f"kernel {runtime.get('kernel')!r}"


def test_environment_variables_declare_default_description_and_required(metadata: dict) -> None:
    variables = metadata.get("environment_variables")
    assert isinstance(variables, dict) and variables
    for name, spec in variables.items():
        assert isinstance(spec.get("default"), str), f"{name}: default must be a string"
        assert isinstance(spec.get("description"), str) and spec["description"].strip(), f"{name}: description"
        assert isinstance(spec.get("required"), bool), f"{name}: required must be true or false"


def test_every_setting_the_scripts_read_is_declared(metadata: dict) -> None:
    scripts = Path(project.__file__).parent.glob("*.py")
    setting = re.compile(r"(?:env|number)\(\"(SEARCH_[A-Z_]+)\"")
    read = {name for script in scripts for name in setting.findall(script.read_text())}
    assert read == PROJECT_VARIABLES
    assert set(metadata["environment_variables"]) >= PROJECT_VARIABLES


def test_blank_store_defaults_mean_the_projects_embedded_stores(metadata: dict) -> None:
    variables = metadata["environment_variables"]
    assert variables["SEARCH_TRACKING_URI"]["default"] == ""
    assert variables["SEARCH_STORAGE"]["default"] == ""


def test_default_models_are_registered_and_default_trials_a_positive_number(metadata: dict) -> None:
    from search.plugins import get_model

    variables = metadata["environment_variables"]
    models = variables["SEARCH_MODELS"]["default"].split()
    assert models == ["knn", "random-forest"]
    for name in models:
        get_model(name)
    assert int(variables["SEARCH_N_TRIALS"]["default"]) >= 1


def test_every_task_has_a_known_type_and_its_required_fields(tasks: list[dict]) -> None:
    for index, task in enumerate(tasks):
        kind = task.get("type")
        assert kind in TASK_FIELDS or kind in OTHER_TASK_TYPES, f"task {index}: unknown type {kind!r}"
        for field, types in TASK_FIELDS.get(kind, {}).items():
            assert isinstance(task.get(field), types), f"task {index} ({kind}): {field} missing or not {types}"


def test_every_script_named_exists_in_the_project(tasks: list[dict]) -> None:
    scripts = [task["script"] for task in tasks if "script" in task]
    assert scripts
    for script in scripts:
        assert not Path(script).is_absolute() and (REPO / script).is_file(), f"{script} does not exist"


def test_cml_scripts_are_plain_python(tasks: list[dict]) -> None:
    # CML runs them as Python scripts: no IPython "!" shell lines.
    for script in {task["script"] for task in tasks if "script" in task}:
        compile((REPO / script).read_text(), script, "exec")


def test_every_job_is_created_once_and_run_after_it_is_created(tasks: list[dict]) -> None:
    created: list[str] = []
    run: list[str] = []
    for task in tasks:
        if task["type"] == "create_job":
            assert task["entity_label"] not in created, f"job {task['entity_label']} created twice"
            created.append(task["entity_label"])
        elif task["type"] == "run_job":
            assert task["entity_label"] in created, f"job {task['entity_label']} run before it is created"
            run.append(task["entity_label"])
    assert sorted(run) == sorted(created), "every job created is run at launch"


def test_dependencies_are_installed_before_the_studies_run(tasks: list[dict]) -> None:
    scripts = {task["entity_label"]: task["script"] for task in tasks if task["type"] == "create_job"}
    runs = [scripts[task["entity_label"]] for task in tasks if task["type"] == "run_job"]
    assert runs[0] == "cml/install_dependencies.py"
    assert "cml/run_studies.py" in runs[1:]


def test_mlflow_ui_application_starts_after_every_study_job(tasks: list[dict]) -> None:
    kinds = [task["type"] for task in tasks]
    apps = [i for i, kind in enumerate(kinds) if kind == "start_application"]
    assert len(apps) == 1, "one application: the MLflow UI"
    app = tasks[apps[0]]
    assert app["name"] == "MLflow UI"
    assert app["script"] == "cml/mlflow_ui.py"
    last_job = max(i for i, kind in enumerate(kinds) if kind in ("create_job", "run_job"))
    assert apps[0] > last_job, "the application starts after the study jobs have run"


def test_application_subdomain_is_the_host_the_ui_allows(tasks: list[dict]) -> None:
    # mlflow_ui.py serves Host mlflow.$CDSW_DOMAIN: the subdomain CML gives the application must match.
    app = next(task for task in tasks if task["type"] == "start_application")
    assert app["subdomain"] == project.APP_SUBDOMAIN
    assert re.fullmatch(r"[a-z0-9-]+", app["subdomain"])


def test_the_champion_model_is_created_built_and_deployed_after_the_studies(tasks: list[dict], metadata: dict) -> None:
    kinds = [task["type"] for task in tasks]
    model_tasks = [(i, task) for i, task in enumerate(tasks) if task["type"].endswith("_model")]
    assert [task["type"] for _, task in model_tasks] == ["create_model", "build_model", "deploy_model"]
    assert len({task["entity_label"] for _, task in model_tasks}) == 1, "one model, built and deployed"
    studies = max(i for i, task in enumerate(tasks) if task["type"] == "run_job")
    assert model_tasks[0][0] > studies, "the champion exists (the study job registered it) before the build"
    assert kinds.count("create_model") == 1
    # The study job registers a champion only with SEARCH_REGISTER set: the model needs its default.
    assert metadata["environment_variables"]["SEARCH_REGISTER"]["default"].strip()
    create = model_tasks[0][1]
    assert set(create["default_resources"]) == {"cpu", "memory"}
    assert create["default_replication_policy"]["type"] == "fixed"
    assert create["default_replication_policy"]["num_replicas"] >= 1


def test_the_model_build_targets_a_function_of_a_project_file_with_examples(tasks: list[dict]) -> None:
    build = next(task for task in tasks if task["type"] == "build_model")
    target = REPO / build["target_file_path"]
    assert target.is_file(), f"{build['target_file_path']} does not exist"
    compile(target.read_text(), build["target_file_path"], "exec")
    assert re.search(rf"^def {build['target_function_name']}\(", target.read_text(), re.M)
    assert (REPO / "cdsw-build.sh").is_file(), "CML's model build installs the project with cdsw-build.sh"
    for example in build["examples"]:
        assert set(example) == {"request", "response"}
        rows = example["request"]["features"]
        assert rows and all(len(row) == 20 for row in rows), "rows as wide as the default data"
        assert {"predictions", "classes", "probabilities", "model"} == set(example["response"])
