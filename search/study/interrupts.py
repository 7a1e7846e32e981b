"""Ctrl-C and SIGTERM during a study: stop within seconds, lose nothing, leave nothing running.

A terminal sends Ctrl-C (SIGINT) to the whole process group; CML stops a job
with SIGTERM. The first signal stops the study: no new trial starts, and a
trial being fitted is abandoned at once (recorded as interrupted) when the
signal finds the process inside its fit, else at its next fold, so the Optuna
storage is never interrupted mid-write. The caller then ends every run it
opened. A second signal exits at once.

Worker processes ignore SIGINT (the group's Ctrl-C reaches them too): their
owner stops them with SIGTERM, which they treat as the first signal.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Exit code of an interrupted command, as a shell reports a Ctrl-C.
EXIT_CODE = 130


class Interrupted(KeyboardInterrupt):
    """Raised inside a trial's fit when the study is interrupted; the trial is recorded as interrupted."""

    def __init__(self) -> None:
        super().__init__("the study was interrupted")


class Interrupts:
    """Signal handling for one study command (or one worker process of it).

    Args:
        stop: Called once, on the first signal: stops the study.
        second: Called on a second signal, before exiting at once (e.g. to kill workers).
        worker: In a worker process: ignore SIGINT, take SIGTERM as the first signal.
        signalled: The command was already stopped by a signal: the next one exits at once.
    """

    def __init__(
        self,
        stop: Callable[[], None],
        second: Callable[[], None] | None = None,
        worker: bool = False,
        signalled: bool = False,
    ) -> None:
        self._stop = stop
        self._second = second
        self._worker = worker
        self._signalled = signalled
        self._fitting = False
        self._previous: dict[int, Any] = {}

    @property
    def signalled(self) -> bool:
        return self._signalled

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handle)
            self._previous[signal.SIGINT] = signal.signal(
                signal.SIGINT, signal.SIG_IGN if self._worker else self._handle
            )
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextmanager
    def fitting(self) -> Iterator[None]:
        """Mark a stretch of pure computation (a fit) in which a signal may raise `Interrupted` at once."""
        with self._marked(True):
            yield

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Within `fitting`: a stretch that writes to a store, which a signal must never cut short."""
        with self._marked(False):
            yield

    @contextmanager
    def _marked(self, fitting: bool) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before, self._fitting = self._fitting, fitting
        try:
            yield
        finally:
            self._fitting = before

    def _handle(self, signum: int, frame: Any) -> None:
        if self._signalled:
            if self._worker:
                return  # the owner decides; a group signal may reach a worker twice
            if self._second is not None:
                self._second()
            # os.write, not print: the signal may have landed inside a print, and stdio is not reentrant.
            os.write(2, b"\nsearch: interrupted again; exiting at once (run the same command to resume and repair)\n")
            _drain_terminal(2)
            os._exit(EXIT_CODE)
        self._signalled = True
        self._stop()
        if self._fitting:
            self._fitting = False
            raise Interrupted()


def _drain_terminal(fd: int) -> None:
    """Wait until a terminal has taken what was written to ``fd``: an exit right after may otherwise lose it."""
    import termios

    try:
        if os.isatty(fd):
            termios.tcdrain(fd)
    except (OSError, termios.error):
        pass
