"""Optuna storages chosen by URL, so the same command runs on a laptop and a cluster.

- ``sqlite:///optuna.db`` (the default), ``postgresql://…``, ``mysql://…``: Optuna's RDB storage.
- ``redis://host:6379/0?prefix=team-a:``: Optuna's journal storage on Redis (many workers,
  many machines; ``prefix`` keeps several teams' studies apart).
- a path ending in ``.journal``: Optuna's journal storage in a file (many worker
  processes, no "database is locked").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from search.common.processes import forget_in_children
from search.common.store_files import creating
from search.errors import InputError, SearchError
from search.stores.urls import Kind, Store
from search.text import one_line

if TYPE_CHECKING:
    import optuna

#: Optuna's heartbeat on the RDB storages: a running trial writes every HEARTBEAT_SECONDS; one
#: silent for GRACE_SECONDS is failed (and queued again) by the next trial of any worker.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 40
#: How often a trial whose process died is queued again before it stays failed: once. A configuration
#: that killed its process twice (or hung it: see `search.study.limits`) is not tried a third time.
STALE_TRIAL_RETRIES = 1


class StorageError(SearchError):
    """The storage cannot be opened (unreachable server, unwritable file): the user's environment, exit code 2."""

    exit_code = 2


class StorageURLError(InputError, StorageError):
    """The storage URL is malformed or names a kind of storage Optuna has not."""


def check_storage_url(store: Store) -> None:
    """Refuse a malformed URL before any work starts (opening may still fail later)."""
    if store.kind is Kind.server:
        raise StorageURLError(f"{store.masked} is an MLflow tracking server, not an Optuna storage: pass it as "
                              "--tracking-uri, and --storage sqlite:///…, postgresql://…, redis://… or a .journal file")
    if store.kind not in (Kind.redis, Kind.journal):
        _check_rdb_url(store)


def open_storage(
    store: Store,
    *,
    read_only: bool = False,
    heartbeat: bool = False,
    claim: Callable[[], Mapping[str, Any]] | None = None,
) -> optuna.storages.BaseStorage:
    """The Optuna storage ``url`` names, created (and migrated) if it does not exist yet.

    ``read_only`` skips table creation and the schema check, for commands that
    only read a study (``search best``): they answer in about half the time.
    ``heartbeat`` turns on Optuna's heartbeat where the storage has one (RDB),
    for commands that run trials. ``claim``: on the journal storages (no
    heartbeat), the user attributes a trial this process starts carries from
    its creation on (the process running it; see `search.stores._claiming`).
    """
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():  # the journal storages are "experimental" but long stable
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return _open(store, read_only=read_only, heartbeat=heartbeat, claim=claim)
    except StorageError:
        raise
    except Exception as error:  # Optuna wraps the driver's error (e.g. "Connection refused"): say that one
        raise StorageError(f"cannot open Optuna storage {store.masked}: {one_line(error.__cause__ or error)}") from None


def _open(
    store: Store, *, read_only: bool, heartbeat: bool, claim: Callable[[], Mapping[str, Any]] | None
) -> optuna.storages.BaseStorage:
    import optuna

    if store.kind in (Kind.redis, Kind.journal):
        return _journal(store, read_only=read_only, claim=claim)
    _check_rdb_url(store)
    if read_only:
        if store.path is not None and not store.path.is_file():
            raise StorageURLError(f"no Optuna storage at {store.path}: run a study first, or pass --storage")
        storage = optuna.storages.RDBStorage(
            store.url, engine_kwargs=_engine_kwargs(store), skip_compatibility_check=True, skip_table_creation=True
        )
    else:
        beat = {}
        if heartbeat:
            beat = {
                "heartbeat_interval": HEARTBEAT_SECONDS,
                "grace_period": GRACE_SECONDS,
                "heartbeat_stale_trial_callback": stale_trial_retry(),
            }
        with creating(store.path if store.kind is Kind.sqlite else None):  # one creates the tables; others wait
            storage = optuna.storages.RDBStorage(store.url, engine_kwargs=_engine_kwargs(store), **beat)
    if store.kind is not Kind.sqlite:
        forget_in_children(storage.engine)  # its pre-ping must never reach a forked helper's copy of the pool
    return storage


def _journal(
    store: Store, *, read_only: bool, claim: Callable[[], Mapping[str, Any]] | None
) -> optuna.storages.JournalStorage:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalRedisBackend

    from search.stores._claiming import ClaimingJournalStorage

    backend: optuna.storages.journal.BaseJournalBackend
    if store.kind is Kind.redis:
        redis_url, prefix = _split_prefix(store.url)
        backend = JournalRedisBackend(redis_url, prefix=prefix)
    else:
        if read_only and not store.path.is_file():
            raise StorageURLError(f"no Optuna storage at {store.path}: run a study first, or pass --storage")
        backend = JournalFileBackend(store.url, lock_obj=JournalFileOpenLock(store.url))
    return optuna.storages.JournalStorage(backend) if claim is None else ClaimingJournalStorage(backend, claim)


def load_study(study_name: str, storage: Store) -> optuna.study.Study:
    """The study ``study_name``, opened read-only; a missing one is a one-line error naming those there are."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = open_storage(storage, read_only=True)
    try:
        return optuna.load_study(study_name=study_name, storage=backend)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
        raise InputError(f"no study {study_name!r} in the storage; it has: {', '.join(names) or 'none'}") from None


def holds_studies(store: Store) -> bool:
    """Whether ``store`` exists and has Optuna's tables (without creating or migrating anything)."""
    if store.kind is Kind.redis:
        return True  # a journal: reading it writes nothing
    if store.path is not None and not store.path.exists():
        return False
    if store.kind is Kind.journal:
        return True
    from sqlalchemy import create_engine, inspect

    engine = create_engine(store.url, **_engine_kwargs(store))
    try:
        return inspect(engine).has_table("studies")
    except Exception as error:
        raise StorageError(f"cannot open Optuna storage {store.masked}: {one_line(error)}") from None
    finally:
        engine.dispose()


def stale_trial_retry() -> Callable[[optuna.study.Study, optuna.trial.FrozenTrial], None]:
    """Optuna's callback queuing a trial whose process died again, with the same parameters."""
    import warnings

    import optuna

    with warnings.catch_warnings():  # "experimental" since Optuna 2.8, and stable
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=STALE_TRIAL_RETRIES)


def _split_prefix(url: str) -> tuple[str, str]:
    """``redis://host/0?prefix=team-a:`` → the Redis URL and the key prefix of the journal."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = "".join(value for key, value in query if key == "prefix")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _check_rdb_url(store: Store) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(store.url)
    except ArgumentError:
        raise StorageURLError(
            f"malformed storage URL {store.masked!r}: expected e.g. sqlite:///optuna.db, "
            "postgresql://user@host/db, redis://host:6379 or a path ending in .journal"
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise StorageURLError(f"unsupported storage URL scheme {parsed.drivername!r} in {store.masked!r}") from None


def _engine_kwargs(store: Store) -> dict:
    if store.kind is Kind.sqlite:
        # Wait for a concurrent writer instead of failing at once with "database is locked".
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}
