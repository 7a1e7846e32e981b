"""Registering a model version, and moving the ``champion`` alias only to a better one.

A new version takes ``champion`` only when its cross-validated score beats the
current champion's on the same metric and the same data (by digest); a
version never silently overwrites a better one. Commands registering at the
same moment converge: after moving the alias, each checks that it points to the
best comparable version and corrects it if not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.common.mlflow_client import quote
from search.interrupts import Interrupted, shielded, stop_requested

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from search.evaluation import Scoring

ALIAS = "champion"
#: Version tags that say what a version's score means, and what it is.
SCORE_TAG, METRIC_TAG, DIGEST_TAG = "cv_score", "metric", "data_digest"
#: "minimize" on a version whose metric is an error (RMSE): lower is better. Absent: higher is better.
DIRECTION_TAG = "direction"


@dataclass
class Registration:
    """A registered version and what became of the ``champion`` alias."""

    name: str
    version: str
    champion: str
    previous: str | None
    reason: str = ""
    #: The version held this model before this command (it registered nothing).
    already: bool = False

    def describe(self) -> str:
        """One line for a summary."""
        if self.already:
            return f"{self.name!r} version {self.version} already holds this model; champion: version {self.champion}"
        registered = f"registered {self.name!r} version {self.version}"
        if self.champion == self.version:
            was = f" (was {self.previous})" if self.previous and self.previous != self.version else ""
            return f"{registered}; champion: version {self.version}{was}"
        return f"{registered}; champion unchanged: version {self.champion} {self.reason}"


def register_version(
    client: MlflowClient, name: str, model_id: str, run_id: str, tags: dict[str, Any]
) -> Registration:
    """Register logged model ``model_id`` as a new version of ``name`` and decide the champion.

    ``tags`` must hold ``cv_score``, ``metric`` and ``data_digest`` (and may hold more: study, trial, ...).
    A command asked to stop registers nothing, and takes back a version it made meanwhile: it never leaves a
    version behind without its decision, and never moves the alias.
    """
    with shielded():
        if stop_requested():
            raise Interrupted()
        return _register(client, name, model_id, run_id, tags)


def _register(client: MlflowClient, name: str, model_id: str, run_id: str, tags: dict[str, Any]) -> Registration:
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=f"models:/{model_id}", run_id=run_id,
                                          tags={k: str(v) for k, v in tags.items()}, model_id=model_id)
    mine, current = str(version.version), _champion(client, name)
    if stop_requested():  # asked to stop while registering: take the version back, leave the alias be
        client.delete_model_version(name, mine)
        raise Interrupted()
    if current is None:
        client.set_registered_model_alias(name, ALIAS, mine)
        return Registration(name, mine, mine, None)
    held = str(current.version)
    if not _comparable(current, version):
        return Registration(name, mine, held, held, f"was scored on other data or another metric ({_what(current)})")
    if _merit(version) <= _merit(current):
        return Registration(name, mine, held, held,
                            f"scored at least as well ({current.tags[METRIC_TAG]} {float(current.tags[SCORE_TAG]):.4f} "
                            f"against {float(version.tags[SCORE_TAG]):.4f})")
    client.set_registered_model_alias(name, ALIAS, mine)
    champion = _converge(client, name, version)
    return Registration(name, mine, champion, held, "" if champion == mine else "scored better (registered meanwhile)")


def registered_already(client: MlflowClient, name: str, model_id: str) -> Registration | None:
    """What the registry says of logged model ``model_id`` if it is already a version of ``name``."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = {quote(name)}")
    except MlflowException:
        return None
    mine = next((str(v.version) for v in versions if v.source == f"models:/{model_id}"), None)
    if mine is None:
        return None
    holder = _champion(client, name)
    champion = str(holder.version) if holder is not None else "none"
    return Registration(name, mine, champion, None, already=True)


def _champion(client: MlflowClient, name: str) -> ModelVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def direction_tag(scoring: Scoring) -> dict[str, str]:
    """The tag saying lower is better, on a version scored by an error (none otherwise, as before it existed)."""
    return {DIRECTION_TAG: scoring.direction} if scoring.lower_is_better else {}


def _comparable(a: ModelVersion, b: ModelVersion) -> bool:
    same = (METRIC_TAG, DIGEST_TAG, DIRECTION_TAG)
    return all(a.tags.get(tag) == b.tags.get(tag) for tag in same) and SCORE_TAG in a.tags


def _merit(version: ModelVersion) -> float:
    """The version's score, turned so that higher is better."""
    score = float(version.tags[SCORE_TAG])
    return -score if version.tags.get(DIRECTION_TAG) == "minimize" else score


def _what(version: ModelVersion) -> str:
    return f"{version.tags.get(METRIC_TAG, '?')} on data {version.tags.get(DIGEST_TAG, '?')}"


def _converge(client: MlflowClient, name: str, mine: ModelVersion) -> str:
    """Point the alias at the best version comparable to ``mine`` (another command may have moved it)."""
    versions = client.search_model_versions(f"name = {quote(name)}")
    rivals = [v for v in versions if _comparable(v, mine)]
    best = max(rivals, key=lambda v: (_merit(v), -int(v.version)))
    holder = _champion(client, name)
    if holder is None or str(holder.version) != str(best.version):
        client.set_registered_model_alias(name, ALIAS, str(best.version))
    return str(best.version)
