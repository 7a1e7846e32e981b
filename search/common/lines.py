"""Text the library writes into warnings and tags: secrets masked, errors in one line, trial lists short.

MLflow's errors quote the tracking URI they failed on, credentials included, so
every message this library emits goes through `mask`. The application around
the library reuses these helpers rather than keeping a second masking rule.
"""

from __future__ import annotations

import re

#: A URL's ``user:password@`` (a password may hold "/": SQLAlchemy reads up to the last "@").
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@\s]*)@")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|token|secret|access_token)=)[^&\s]*")
#: MLflow reports a failed HTTP request as "API request to <url> failed with exception <urllib3's story>".
_FAILED_REQUEST = re.compile(r"API request to (?P<url>\S+) failed with exception")
_SYSTEM_ERROR = re.compile(r"\[Errno -?\d+\] (?P<reason>[^'\")\]]+)")
#: Longest one-line error message.
MAX_LINE = 300


def mask(text: str) -> str:
    """``text`` with any URL's password, or secret query value, replaced by ``***``."""
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _SECRET_QUERY.sub(r"\1***", masked)


def one_line(error: BaseException) -> str:
    """``Type: first line of the message`` (secrets masked, at most `MAX_LINE` characters).

    MLflow's failed HTTP requests are shortened to the URL and the system's
    reason ("Connection refused").
    """
    text = str(error).strip()
    failed, reason = _FAILED_REQUEST.search(text), _SYSTEM_ERROR.findall(text)
    if failed:
        why = reason[-1].strip() if reason else ("timed out" if "timed out" in text.lower() else "no answer")
        return mask(f"cannot reach {failed['url'].split('/api/')[0]}: {why}")
    lines = text.splitlines()
    return mask(f"{type(error).__name__}: {lines[0] if lines else ''}")[:MAX_LINE].rstrip(": ")


def numbers_text(numbers: list[int], limit: int = 20) -> str:
    """``1, 2, 3`` (the first ``limit``, then "and N more")."""
    shown = ", ".join(map(str, numbers[:limit]))
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def count(numbers: list[int], noun: str) -> str:
    """``3 trials``, ``1 trial``."""
    return f"{len(numbers)} {noun}{'' if len(numbers) == 1 else 's'}"
