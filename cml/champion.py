"""The champion, exported into the project so that a CML model build carries it.

CML builds a model from the project's files minus what ``.gitignore`` lists,
and the project's MLflow store (``mlflow.db``) is listed there: a build cannot
read the registry on the project's own store. So the study job exports the
registered model's champion into ``<project>/champion/`` (its MLflow model
files and what it is), and the model serves that folder: deploying the model
again (a new build) serves the champion the job last exported.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from search.deliverable.champion import ALIAS
from search.stores.urls import Store

#: The folder, under the project root, a model build takes the champion from.
FOLDER = "champion"
#: Inside it: the MLflow model's files, and what they are.
MODEL, ABOUT = "model", "champion.json"


@dataclass(frozen=True)
class Exported:
    """A champion exported into a project."""

    name: str
    version: str
    folder: Path

    @property
    def model(self) -> Path:
        return self.folder / MODEL

    @property
    def label(self) -> str:
        return f"{self.name} version {self.version} ({ALIAS})"


def export(root: Path, tracking: Store, name: str) -> Exported | None:
    """Copy ``models:/NAME@champion`` into ``<root>/champion`` (replacing what was there); None if there is none."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking.url)
    try:
        version = str(client.get_model_version_by_alias(name, ALIAS).version)
    except MlflowException:
        return None
    mlflow.set_tracking_uri(tracking.url)
    target = root / FOLDER
    staging = Path(tempfile.mkdtemp(prefix=".champion-", dir=root))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(staging / MODEL))
        (staging / ABOUT).write_text(json.dumps({"name": name, "version": version}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # whole, or not at all: a build never copies half a champion
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Exported(name, version, target)


def exported(root: Path) -> Exported | None:
    """The champion exported into the project (or the build made from it), if any."""
    about = root / FOLDER / ABOUT
    if not about.is_file():
        return None
    fields = json.loads(about.read_text())
    return Exported(str(fields["name"]), str(fields["version"]), root / FOLDER)
