"""Registering a model version, and moving the ``champion`` alias only to a better one.

A new version takes ``champion`` only when its cross-validated score beats the
current champion's on the same metric and the same data (by digest); a
version never silently overwrites a better one. Commands registering at the
same moment converge: after moving the alias, each checks that it points to the
best comparable version and corrects it if not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALIAS = "champion"
#: Version tags that say what a version's score means, and what it is.
SCORE_TAG, METRIC_TAG, DIGEST_TAG = "cv_score", "metric", "data_digest"


@dataclass
class Registration:
    """A registered version and what became of the ``champion`` alias."""

    name: str
    version: str
    champion: str
    previous: str | None
    reason: str = ""

    def describe(self) -> str:
        """One line for a summary."""
        registered = f"registered {self.name!r} version {self.version}"
        if self.champion == self.version:
            was = f" (was {self.previous})" if self.previous and self.previous != self.version else ""
            return f"{registered}; champion: version {self.version}{was}"
        return f"{registered}; champion unchanged: version {self.champion} {self.reason}"


def register(client: Any, name: str, model_id: str, run_id: str, tags: dict[str, Any]) -> Registration:
    """Register logged model ``model_id`` as a new version of ``name`` and decide the champion.

    ``tags`` must hold ``cv_score``, ``metric`` and ``data_digest`` (and may hold more: study, trial, ...).
    """
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=f"models:/{model_id}", run_id=run_id,
                                          tags={k: str(v) for k, v in tags.items()}, model_id=model_id)
    mine, current = str(version.version), _champion(client, name)
    if current is None:
        client.set_registered_model_alias(name, ALIAS, mine)
        return Registration(name, mine, mine, None)
    held = str(current.version)
    if not _comparable(current, version):
        return Registration(name, mine, held, held, f"was scored on other data or another metric ({_what(current)})")
    if float(version.tags[SCORE_TAG]) <= float(current.tags[SCORE_TAG]):
        return Registration(name, mine, held, held,
                            f"scored higher ({current.tags[METRIC_TAG]} {float(current.tags[SCORE_TAG]):.4f} "
                            f"against {float(version.tags[SCORE_TAG]):.4f})")
    client.set_registered_model_alias(name, ALIAS, mine)
    champion = _converge(client, name, version)
    return Registration(name, mine, champion, held, "" if champion == mine else "scored higher (registered meanwhile)")


def _champion(client: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def _comparable(a: Any, b: Any) -> bool:
    return all(a.tags.get(tag) == b.tags.get(tag) for tag in (METRIC_TAG, DIGEST_TAG)) and SCORE_TAG in a.tags


def _what(version: Any) -> str:
    return f"{version.tags.get(METRIC_TAG, '?')} on data {version.tags.get(DIGEST_TAG, '?')}"


def _converge(client: Any, name: str, mine: Any) -> str:
    """Point the alias at the best version comparable to ``mine`` (another command may have moved it)."""
    from search.tracking import quote

    versions = client.search_model_versions(f"name = {quote(name)}")
    rivals = [v for v in versions if _comparable(v, mine)]
    best = max(rivals, key=lambda v: (float(v.tags[SCORE_TAG]), -int(v.version)))
    holder = _champion(client, name)
    if holder is None or str(holder.version) != str(best.version):
        client.set_registered_model_alias(name, ALIAS, str(best.version))
    return str(best.version)
