"""How the toolkit words things: secrets masked, errors in one line, counts in words.

Masking and one-line errors are the tracking library's own (it masks its
warnings with them): one rule for everything we print, tag or log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from search.common.lines import mask, numbers_text, one_line

__all__ = ["error_line", "mask", "numbers_text", "one_line", "plural", "squeeze", "warnings_as_lines",
           "warnings_as_lines_within"]


def plural(count: int, noun: str) -> str:
    """``1 trial``, ``3 trials``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def squeeze(text: str) -> str:
    """``text`` on one line: every run of white space (newlines too) one space."""
    return " ".join(str(text).split())


def warnings_as_lines(prog: str) -> None:
    """Print every warning as one line, ``prog: warning: message`` (masked), not Python's file:line form."""
    import warnings

    def line(message: Warning | str, *_: object, **__: object) -> str:
        return f"{prog}: warning: {mask(squeeze(str(message)))}\n"

    warnings.formatwarning = line


@contextmanager
def warnings_as_lines_within(prog: str) -> Iterator[None]:
    """`warnings_as_lines` for the length of a call, then the caller's format again (a notebook's kernel)."""
    import warnings

    saved = warnings.formatwarning
    warnings_as_lines(prog)
    try:
        yield
    finally:
        warnings.formatwarning = saved


def error_line(prog: str, message: object) -> str:
    """The one line a command prints for an error a user can cause: ``prog: error: message`` (masked)."""
    return f"{prog}: error: {mask(squeeze(str(message)))}"
