"""Storage and tracking URLs: resolving the defaults and masking their secrets.

URLs can carry passwords (``postgresql://user:secret@host/db``); anything we
print, tag or log goes through `mask` first.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_STORAGE = "sqlite:///optuna.db"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@/\s]*)@")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|token|secret|access_token)=)[^&\s]*")


def mask(url: str) -> str:
    """``url`` with any password or token replaced by ``***``."""
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _SECRET_QUERY.sub(r"\1***", masked)


def resolve_tracking_uri(option: str | None = None) -> str:
    """The MLflow store to use: the option, else ``MLFLOW_TRACKING_URI`` (blank = unset), else sqlite.

    A relative sqlite path is made absolute, so every process (and MLflow's
    per-URI store cache) means the same file whatever its working directory.
    """
    uri = next((c.strip() for c in (option, os.environ.get("MLFLOW_TRACKING_URI")) if c and c.strip()), None)
    return absolute_sqlite(uri or DEFAULT_TRACKING_URI)


def absolute_sqlite(uri: str, base: Path | None = None) -> str:
    """``sqlite:///relative.db`` as ``sqlite:////abs/relative.db`` (other URIs unchanged)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/") or uri[len(prefix):].startswith(":memory:"):
        return uri
    return prefix + str((base or Path.cwd()) / uri[len(prefix):])
