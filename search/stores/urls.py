"""Where a study or its runs are kept, parsed once from its URL into a `Store`.

URLs can carry passwords (``postgresql://user:secret@host/db``): a `Store`
prints as its masked URL, so whatever we print, tag or log shows ``***``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from search import defaults
from search.common.store_files import SQLITE_PREFIX, sqlite_file
from search.text import mask

JOURNAL_SUFFIX = ".journal"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SERVER_SCHEMES = ("http://", "https://")


class Kind(StrEnum):
    """What kind of store a URL names."""

    sqlite = "sqlite"  # a database file: Optuna's RDB storage, or MLflow's database store
    database = "database"  # a database server (postgresql://, mysql://)
    journal = "journal"  # Optuna's journal storage in a file (a path ending in .journal)
    redis = "redis"  # Optuna's journal storage on Redis
    server = "server"  # an MLflow tracking server (http(s)://)
    other = "other"  # anything else MLflow takes (file:, databricks, ...)


@dataclass(frozen=True)
class Store:
    """A store's URL, as opened (a relative sqlite or journal path made absolute), and what it is.

    ``path`` is the file behind a sqlite or journal store (None otherwise, and
    for an in-memory database).
    """

    url: str
    kind: Kind
    path: Path | None = None

    @classmethod
    def parse(cls, url: str, base: Path | None = None) -> Store:
        """The store ``url`` names; a relative file is taken from ``base`` (default: the working directory)."""
        url = url.strip()
        lowered = url.lower()
        if lowered.startswith(SERVER_SCHEMES):
            return cls(url, Kind.server)
        if lowered.startswith(REDIS_SCHEMES):
            return cls(url, Kind.redis)
        if "://" not in url and url.endswith(JOURNAL_SUFFIX):
            path = Path(url) if Path(url).is_absolute() else (base or Path.cwd()) / url
            return cls(str(path), Kind.journal, path)
        if url.startswith(SQLITE_PREFIX):
            path = sqlite_file(url)
            if path is not None and not path.is_absolute():
                path = (base or Path.cwd()) / path
                _, separator, query = url[len(SQLITE_PREFIX) :].partition("?")
                url = f"{SQLITE_PREFIX}{path}{separator}{query}"
            return cls(url, Kind.sqlite, path)
        if lowered.startswith(("postgresql", "postgres", "mysql", "mssql", "oracle")):
            return cls(url, Kind.database)
        return cls(url, Kind.other)

    @property
    def masked(self) -> str:
        """The URL with its password (if any) as ``***``: what may be printed, tagged or logged."""
        return mask(self.url)

    @property
    def is_server(self) -> bool:
        return self.kind is Kind.server

    @property
    def is_file(self) -> bool:
        """Whether the store is a file on this machine (sqlite or journal), which its path names."""
        return self.path is not None

    def __str__(self) -> str:
        return self.masked


def resolve_tracking(option: str | None = None, base: Path | None = None) -> Store:
    """The MLflow store to use: the option, else ``MLFLOW_TRACKING_URI`` (blank = unset), else the embedded file."""
    uri = next((c.strip() for c in (option, os.environ.get("MLFLOW_TRACKING_URI")) if c and c.strip()), None)
    return Store.parse(uri or defaults.TRACKING_URI, base)


def resolve_storage(option: str | None = None, base: Path | None = None) -> Store:
    """The Optuna storage to use: the option (blank = unset), else the embedded sqlite file."""
    return Store.parse((option or "").strip() or defaults.STORAGE, base)
