"""Checking the stores before anything is written to them: distinct, writable, of the right kind, reachable.

A command that fails must leave both stores as they were, so everything that
can be known without writing is checked first, with one clear line each.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from search.errors import InputError
from search.stores.server import check_server
from search.stores.urls import Kind, Store

#: A table each kind of store has, and what it is called, to tell one store's file from the other's.
_OPTUNA_TABLE, _MLFLOW_TABLE = "studies", "experiments"


def check_stores(storage: Store, tracking: Store) -> None:
    """Refuse stores a command could not use, or would damage, before it creates or writes anything."""
    if storage.path is not None and tracking.path is not None and _same(storage.path, tracking.path):
        raise InputError(
            f"the Optuna storage and the MLflow tracking store are the same file ({storage.path}): "
            "give each its own, e.g. --storage sqlite:///optuna.db --tracking-uri sqlite:///mlflow.db"
        )
    if storage.kind is Kind.sqlite and storage.path is not None:
        _check_sqlite(storage.path, "Optuna storage", _OPTUNA_TABLE, _MLFLOW_TABLE)
    elif storage.path is not None:
        _check_writable_file(storage.path, "Optuna storage")
    if tracking.kind is Kind.sqlite and tracking.path is not None:
        _check_sqlite(tracking.path, "MLflow tracking store", _MLFLOW_TABLE, _OPTUNA_TABLE)
    elif tracking.is_server:
        check_server(tracking)


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _check_sqlite(path: Path, kind: str, own_table: str, other_table: str) -> None:
    if not path.exists():
        _check_creatable(path, kind)
        return
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=60, isolation_level=None)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            # Is the file writable? A write that changes nothing, rolled back: the file is never touched.
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise InputError(f"cannot use {path} as the {kind}: {error}") from None
    if tables and own_table not in tables:
        names = {_OPTUNA_TABLE: "an Optuna storage", _MLFLOW_TABLE: "an MLflow tracking store"}
        what = names[other_table] if other_table in tables else "another program's database"
        raise InputError(f"{path} is {what}, not the {kind}: point the option at another file")


def _check_writable_file(path: Path, kind: str) -> None:
    if not path.exists():
        _check_creatable(path, kind)
    elif not os.access(path, os.W_OK):
        raise InputError(f"cannot write to the {kind} {path}: permission denied")


def _check_creatable(path: Path, kind: str) -> None:
    """The file can be made in its folder, which exists: a mistyped folder is refused, never made."""
    folder = path.parent
    if not folder.exists():
        raise InputError(f"cannot create the {kind} {path}: no such directory {folder}")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(f"cannot create the {kind} {path}: {folder} is not a writable folder")
