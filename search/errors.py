"""The errors a user can cause. The CLI prints their message as one line, never a traceback.

`InputError` is a bad argument (exit code 2, like any usage error); `SearchError`
is anything else that stops a command (exit code 1), e.g. an unreachable server.
"""


class SearchError(Exception):
    """A command cannot go on; the message says why in one line."""

    exit_code = 1


class InputError(SearchError, ValueError):
    """An argument the user gave is not acceptable."""

    exit_code = 2


class DataError(InputError):
    """The data cannot be used; the message says why in one line."""
