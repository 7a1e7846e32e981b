"""Fits in a forked child process, so that the command can always stop one: at a time limit or on a signal.

A fit may run compiled code that never returns to the interpreter (libsvm on
an ill-conditioned kernel, a plugin's C loop): there a Python signal handler
cannot run, and a thread cannot be stopped. So each fit runs in a child forked
from the process that needs it (it shares the data and the imported libraries,
no copy, no second import), while the parent waits on a pipe, where a signal
is handled at once. When the fit's limit passes, a signal comes or the parent
no longer wants the fit (a pruned trial), the child is killed (SIGKILL), so it
does not go on burning a core. The child ignores the terminal's and CML's stop
signals (its parent decides) and dies with its parent (``PR_SET_PDEATHSIG``),
kill -9 included.

A fit in a child runs on one thread: GNU OpenMP's thread pool does not
survive a fork, and a child of a process that has used it (a notebook's
kernel that fitted a model before) hangs in its first parallel loop.

Where a process cannot be forked safely (Windows; macOS, whose system
libraries do not survive a fork), the fit runs in this process, as before:
without a limit, and a signal waits for the fit to return.

Example:
    >>> from search.fit_process import run_fit
    >>> run_fit(lambda send: 6 * 7, limit=10.0)
    42
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from search.interrupts import Interrupted

T = TypeVar("T")

#: The signals the fit's process leaves to its parent (see `search.interrupts`).
_PARENT_DECIDES = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How often the parent, waiting for a fit, looks whether it should stop (a signal seen by another thread).
_LOOK_SECONDS = 0.25
#: Warnings the fits raised, each said once per process (Python's "default" rule), whichever child raised it.
_shown_warnings: set[tuple[str, type[Warning], str, int]] = set()


class FitTimeout(Exception):
    """A fit ran past its limit and was stopped; the trial fails with this reason."""

    def __init__(self, limit: float, why: str = "") -> None:
        seconds = f"{limit:.0f}" if limit >= 10 else f"{limit:.2g}"
        super().__init__(f"exceeded the per-trial limit of {seconds} s{why}")


class FitCrashed(Exception):
    """The fit's process ended without an answer (a crash in compiled code, killed by the system)."""


def can_isolate() -> bool:
    """Whether fits run in a child process here (see the module's docstring)."""
    return hasattr(os, "fork") and sys.platform != "darwin"


def run_fit(
    work: Callable[[Callable[[Any], None]], T],
    *,
    limit: float | None = None,
    on_message: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    why: str = "",
) -> T:
    """``work(send)`` run in a child process; its return value, or its exception raised here.

    Args:
        work: The fit. It may call ``send(message)`` (e.g. after each fold); each message reaches
            ``on_message`` here while the fit goes on. What it returns or raises must pickle.
        limit: Seconds after which the fit is killed and `FitTimeout` raised (None: no limit).
        on_message: Called here with each message, in order; what it raises (a pruned trial)
            stops the fit and is raised.
        should_stop: Looked at several times a second; True stops the fit (raising `Interrupted`),
            for threads that do not receive signals themselves.
        why: Said after the limit in `FitTimeout`'s message.
    """
    if not can_isolate():
        return work(on_message or (lambda message: None))
    from multiprocessing.connection import Pipe

    threadpools, prctl = _threadpools(), _prctl()
    receiving, sending = Pipe(duplex=False)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _PARENT_DECIDES)  # none lands between fork and SIG_IGN
    # The child must never collect the parent's garbage: finalising an SQLite connection another thread of the
    # parent held a lock of at the fork waits on that lock forever. Frozen objects are not collected.
    gc.freeze()
    try:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            receiving.close()
            _child(work, sending, parent, threadpools, prctl)
    finally:
        gc.unfreeze()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    sending.close()
    try:
        return _wait(receiving, limit, on_message, should_stop, why)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # done, or no longer wanted: never left running
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        receiving.close()


def _wait(
    receiving: Any,
    limit: float | None,
    on_message: Callable[[Any], None] | None,
    should_stop: Callable[[], bool] | None,
    why: str,
) -> Any:
    """The child's answer, passing its messages on; a signal handled here ends the wait at once."""
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        wait = _LOOK_SECONDS if should_stop is not None else None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FitTimeout(limit, why)
            wait = left if wait is None else min(wait, left)
        if not receiving.poll(wait):
            if should_stop is not None and should_stop():
                raise Interrupted()
            continue
        try:
            kind, payload, caught = receiving.recv()
        except EOFError:
            raise FitCrashed("the process fitting it ended without an answer (a crash in compiled code, or "
                             "the system killed it: out of memory?)") from None
        _show(caught)
        if kind == "message":
            if on_message is not None:
                on_message(payload)
        elif kind == "result":
            return payload
        else:
            raise payload


def _child(
    work: Callable[[Callable[[Any], None]], Any], sending: Any, parent: int, threadpools: Any,
    prctl: Callable[..., int] | None,
) -> None:
    """Run ``work`` and send its answer; never return (``os._exit``: the parent's exit handlers are its own)."""
    code = 0
    try:
        for signum in _PARENT_DECIDES:
            signal.signal(signum, signal.SIG_IGN)
        _die_with(parent, prctl)
        threadpools.limit(limits=1)  # never the OpenMP pool inherited from the parent (see the module's docstring)
        with warnings.catch_warnings(record=True) as caught:

            def send(message: Any) -> None:
                sending.send(("message", message, _taken(caught)))

            result = work(send)
        sending.send(("result", result, _taken(caught)))
    except BaseException as error:
        code = 1
        with contextlib.suppress(BaseException):
            sending.send(("error", _picklable(error), []))
    finally:
        os._exit(code)


@functools.cache
def _threadpools() -> Any:
    """The native thread pools (OpenMP, BLAS) loaded here: found once (10 ms), limited in each child (0.03 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """Linux's ``prctl``, looked up once in the parent (a child importing ctypes would pay it each time)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with(parent: int, prctl: Callable[..., int] | None) -> None:
    """Have the kernel kill this process when its parent dies (Linux), and exit now if it already has."""
    pr_set_pdeathsig = 1
    if prctl is not None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(1)


def _taken(caught: list[warnings.WarningMessage]) -> list[tuple[str, type[Warning], str, int]]:
    """The warnings caught so far, as data that pickles (emptied: each is sent once)."""
    taken = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
    caught.clear()
    return taken


def _show(caught: list[tuple[str, type[Warning], str, int]]) -> None:
    """The child's warnings, raised here under this process's filters, each once (as Python's default does)."""
    for warning in caught:
        if warning not in _shown_warnings:  # not Python's registry: any catch_warnings() elsewhere empties it
            _shown_warnings.add(warning)
            warnings.warn_explicit(*warning)


def _picklable(error: BaseException) -> BaseException:
    """``error`` itself if it can travel to the parent, else a `RuntimeError` saying what it was."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return RuntimeError(last)
