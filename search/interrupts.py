"""Ctrl-C, SIGTERM and SIGHUP during a study: stop within seconds, lose nothing, leave nothing running.

A terminal sends Ctrl-C (SIGINT) to the whole process group, and SIGHUP when
it closes (an ssh session dropped); CML stops a job with SIGTERM. All three
mean the same: stop. The first signal stops the study: no new trial starts, and a
trial being fitted is abandoned at once (recorded as interrupted) when the
signal finds the process inside its fit, else at its next fold, so the Optuna
storage is never interrupted mid-write. The caller then ends every run it
opened. A second signal exits at once.

Worker processes ignore SIGINT and SIGHUP (the group's signals reach them
too): their owner stops them with SIGTERM, which they treat as the first signal.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

#: Exit code of an interrupted command, as a shell reports a Ctrl-C.
EXIT_CODE = 130
#: What a second signal prints before the command exits at once.
AGAIN = b"\nsearch: interrupted again; exiting at once (run the same command to resume and repair)\n"
#: The signals that stop a command; a worker process takes only SIGTERM, from its owner.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """Raised inside a trial's fit when the study is interrupted; the trial is recorded as interrupted."""

    def __init__(self) -> None:
        super().__init__("the study was interrupted")


class Interrupts:
    """Signal handling for one study command (or one worker process of it).

    The first signal is acknowledged at once on stderr (``announce``), so a
    user knows it was heard; the stop itself takes seconds.

    Args:
        stop: Called once, on the first signal: stops the study.
        second: Called on a second signal, before exiting at once (e.g. to kill workers).
        worker: In a worker process: ignore SIGINT, take SIGTERM as the first signal.
        signalled: The command was already stopped by a signal: the next one exits at once.
        interruptible: A signal raises `Interrupted` at once anywhere but in `writing` (else only in `fitting`).
        announce: The line the first signal prints (None: nothing, as in a worker).
    """

    def __init__(
        self,
        stop: Callable[[], None],
        second: Callable[[], None] | None = None,
        *,
        worker: bool = False,
        signalled: bool = False,
        interruptible: bool = False,
        announce: str | None = "stopping: every finished trial is kept (Ctrl-C again exits at once)",
    ) -> None:
        self._stop = stop
        self._second = second
        self._worker = worker
        self._signalled = signalled
        self._fitting = interruptible
        self._pending = False  # a signal came inside `writing`: it raises when the write is done
        self._signum = signal.SIGINT  # the first signal, to deliver again if a finaliser swallowed what it raised
        self._in_hook = False
        self._previous_hook = sys.unraisablehook
        self._announce = None if worker or announce is None else f"\nsearch: {announce}\n".encode()
        self._previous: dict[int, object] = {}

    @property
    def signalled(self) -> bool:
        return self._signalled

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                ignored = self._worker and signum != signal.SIGTERM
                self._previous[signum] = signal.signal(signum, signal.SIG_IGN if ignored else self._handle)
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
            _active.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._previous:
            sys.unraisablehook = self._previous_hook
        if self._previous and _active and _active[-1] is self:
            _active.pop()
        self._previous.clear()

    @contextmanager
    def fitting(self) -> Iterator[None]:
        """Mark a stretch of pure computation (a fit) in which a signal may raise `Interrupted` at once.

        Compiled code may turn what a signal raised into its own error (a Cython buffer check raises
        ValueError): an error that follows a signal received during the fit is the interruption.
        """
        signalled_before = self._signalled
        with self._marked(fitting=True):
            try:
                yield
            except Exception as error:
                if self._signalled and not signalled_before:
                    raise Interrupted() from error
                raise

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A stretch that writes to a store, which a signal must never cut short.

        Within an interruptible stretch, a signal that came meanwhile raises `Interrupted` when it ends.
        """
        with self._marked(fitting=False):
            yield
        if self._pending and self._fitting and threading.current_thread() is threading.main_thread():
            self._pending = self._fitting = False
            raise Interrupted()

    @contextmanager
    def _marked(self, *, fitting: bool) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before, self._fitting = self._fitting, fitting
        try:
            yield
        finally:
            self._fitting = before

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if _redelivered:  # our own second delivery of a first signal (see `_unraisable`)
            if _redelivered.pop(0) is not self:  # it outlived the handling that asked for it, which took the signal
                return
            if self._in_hook:  # not yet back in the fit: once more, later
                _deliver_later(signum, self)
                return
            if self._fitting:
                self._fitting = False
                raise Interrupted()
            return
        if self._signalled:
            if self._worker:
                return  # the owner decides; a group signal may reach a worker twice
            if self._second is not None:
                self._second()
            # os.write, not print: the signal may have landed inside a print, and stdio is not reentrant.
            _write_all(2, AGAIN)
            if _embedded:  # a notebook's kernel: never end the process, raise where the code is
                raise KeyboardInterrupt("interrupted again")
            _drain_terminal(2)
            os._exit(EXIT_CODE)
        self._signalled = True
        if signum == signal.SIGHUP:
            _detach_from_terminal()
        elif self._announce is not None:
            _write_all(2, self._announce)  # os.write, not print: stdio is not reentrant
        self._stop()
        if self._fitting:
            self._fitting = False
            self._signum = signum
            raise Interrupted()
        self._pending = True

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        """A signal handler runs wherever Python is, a garbage collector's finaliser included, which drops
        what it raises (with a traceback on stderr): the fit would go on. Deliver the signal again instead."""
        if not isinstance(unraisable.exc_value, Interrupted):
            self._previous_hook(unraisable)
            return
        self._fitting = True  # the finaliser ran inside the fit the signal was meant to end
        self._in_hook = True
        try:
            _deliver_later(self._signum, self)
        finally:
            self._in_hook = False


#: The signal handling in force in the main thread, innermost last.
_active: list[Interrupts] = []
#: Signals delivered again by `_deliver_later` and not yet handled, oldest first: the handling that asked for each.
_redelivered: list[Interrupts] = []
#: Inside `embedded`: the process is someone else's (a notebook's kernel).
_embedded: list[bool] = []


@contextmanager
def embedded() -> Iterator[None]:
    """Run a study inside a process that is not ours (a Jupyter kernel): a second signal raises, never exits."""
    _embedded.append(True)
    try:
        yield
    finally:
        _embedded.pop()


@contextmanager
def shielded() -> Iterator[None]:
    """A write a signal must not cut short (a model version and its alias): under the handling in force, if any."""
    if not _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    with _active[-1].writing():
        yield


def stop_requested() -> bool:
    """Whether the command has been asked to stop (a signal came) and is still finishing."""
    return bool(_active) and _active[-1].signalled


def _deliver_later(signum: int, owner: Interrupts) -> None:
    """Have the main thread run ``signum``'s handler again, from another thread: never inside the caller.

    A raw thread, not `threading`: a signal handler must not wait on the locks the code it interrupted may hold.
    It may arrive once ``owner``'s handling has ended (the fit ended first): the handling then in force knows it
    for a delivery of a signal already taken, not a new one (`_redelivered`).
    """
    _redelivered.append(owner)
    _thread.start_new_thread(_thread.interrupt_main, (signum,))


def _detach_from_terminal() -> None:
    """The terminal is gone (SIGHUP): what the command still prints goes nowhere, instead of failing with EIO."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def _write_all(fd: int, data: bytes) -> None:
    """``data`` written whole: a terminal may take part of a write (a full buffer), and the rest was lost."""
    while data:
        try:
            data = data[os.write(fd, data):]  # Python retries a write a signal interrupted (PEP 475)
        except OSError:  # the terminal is gone: nobody to tell
            return


def _drain_terminal(fd: int) -> None:
    """Wait until a terminal has taken what was written to ``fd``: an exit right after may otherwise lose it."""
    import termios

    try:
        if os.isatty(fd):
            termios.tcdrain(fd)
    except (OSError, termios.error):
        pass
