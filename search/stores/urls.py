"""Storage and tracking URLs: defaults, sqlite paths, server detection and masking, each written once.

URLs can carry passwords (``postgresql://user:secret@host/db``); anything we
print, tag or log goes through `mask` first.
"""

from __future__ import annotations

import os
from pathlib import Path

from search import defaults
from search.tracking import mask

__all__ = ["absolute_sqlite", "is_server", "mask", "resolve_storage", "resolve_tracking_uri", "sqlite_path"]

SQLITE_PREFIX = "sqlite:///"


def is_server(uri: str) -> bool:
    """Whether ``uri`` is an MLflow tracking server (``http(s)://``) rather than a store we open ourselves."""
    return uri.strip().lower().startswith(("http://", "https://"))


def sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    path = uri[len(SQLITE_PREFIX) :].split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def absolute_sqlite(uri: str, base: Path | None = None) -> str:
    """``sqlite:///relative.db`` as ``sqlite:////abs/relative.db`` (other URIs unchanged).

    Every process (and MLflow's per-URI store cache) then means the same file
    whatever its working directory.
    """
    path = sqlite_path(uri)
    if path is None or path.is_absolute():
        return uri
    return SQLITE_PREFIX + str((base or Path.cwd()) / uri[len(SQLITE_PREFIX) :])


def resolve_tracking_uri(option: str | None = None) -> str:
    """The MLflow store to use: the option, else ``MLFLOW_TRACKING_URI`` (blank = unset), else sqlite."""
    uri = next((c.strip() for c in (option, os.environ.get("MLFLOW_TRACKING_URI")) if c and c.strip()), None)
    return absolute_sqlite(uri or defaults.TRACKING_URI)


def resolve_storage(option: str | None = None) -> str:
    """The Optuna storage to use: the option (blank = unset), else the embedded sqlite file."""
    return absolute_sqlite((option or "").strip() or defaults.STORAGE)
