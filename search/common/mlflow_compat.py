"""The few places the library reaches into MLflow beyond its public API, each with its fallback.

MLflow has no public getter for the fluent API's active experiment, for
another thread's active run, or for the context tags ``mlflow.start_run``
adds. Kept here, in one module, so an MLflow release that moves them breaks one
file, and each degrades to a safe answer when the private name is gone.
"""

from __future__ import annotations

import threading


def active_experiment_id() -> str:
    """The experiment ``mlflow.set_experiment`` chose, else the default one ("0")."""
    from mlflow.tracking import fluent

    getter = getattr(fluent, "_get_experiment_id", None)
    return (getter() if getter is not None else None) or "0"


def callers_active_run_id() -> str | None:
    """The run active in this thread, else in the main thread (where the user started it)."""
    import mlflow
    from mlflow.tracking import fluent

    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id
    stacks = getattr(fluent, "_active_run_stack", None)  # MLflow keeps each thread's runs; no public getter
    if stacks is None:
        return None
    stack = stacks.get_all_thread_values().get(threading.main_thread().ident) or []
    return stack[-1].info.run_id if stack else None


def run_context_tags() -> dict[str, str]:
    """The source and user tags ``mlflow.start_run`` would add (git tags left out: they cost a subprocess)."""
    try:
        from mlflow.tracking.context.registry import resolve_tags
    except ImportError:  # moved in a later MLflow: runs go without them
        return {}
    return {k: v for k, v in resolve_tags().items() if not k.startswith("mlflow.source.git")}
