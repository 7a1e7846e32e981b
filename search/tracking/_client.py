"""Small things every part of the tracking library does with an `MlflowClient`."""

from __future__ import annotations

import re
from typing import Any

#: A URL's ``user:password@`` (a password may hold "/": SQLAlchemy reads up to the last "@").
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@\s]*)@")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|token|secret|access_token)=)[^&\s]*")


def mask(text: str) -> str:
    """``text`` with any URL's password, or secret query value, replaced by ``***``.

    MLflow's errors quote the tracking URI they failed on, credentials included:
    everything this library warns about goes through here.
    """
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _SECRET_QUERY.sub(r"\1***", masked)

#: Tag marking the runs this library creates for a study ("study"), and the tag naming the study.
ROLE_TAG, STUDY_TAG = "search.role", "optuna.study_name"

#: Errors that mean "the store is unreachable or failing now" rather than "this write is wrong".
_OUTAGE_TYPES = (
    "ConnectionError",
    "Timeout",
    "ReadTimeout",
    "ConnectTimeout",
    "OperationalError",
    "TimeoutError",
    "BrokenPipeError",
)


class WriteError(Exception):
    """A write MLflow did not take, with whether it was an outage (retry later) or a refusal (report now).

    Plain and picklable, so a writer process can send it back.
    """

    def __init__(self, message: str, outage: bool) -> None:
        super().__init__(message, outage)  # both in args: that is what pickling rebuilds it from
        self.message, self.outage = message, outage

    def __str__(self) -> str:
        return self.message


def as_write_error(error: BaseException) -> WriteError:
    """Classify ``error``: connection errors, timeouts and 5xx answers are outages; the rest refusals."""
    if isinstance(error, WriteError):
        return error
    status = getattr(error, "get_http_status_code", None)
    if callable(status):
        outage = status() >= 500
    else:
        names = {cls.__name__ for cls in type(error).__mro__}
        outage = bool(names & set(_OUTAGE_TYPES)) or isinstance(error, OSError)
    return WriteError(one_line(error), outage)


#: MLflow reports a failed HTTP request as "API request to <url> failed with exception <urllib3's story>".
_FAILED_REQUEST = re.compile(r"API request to (?P<url>\S+) failed with exception")
_SYSTEM_ERROR = re.compile(r"\[Errno -?\d+\] (?P<reason>[^'\")\]]+)")


def one_line(error: BaseException) -> str:
    """``Type: first line of the message`` (secrets masked, at most 300 characters).

    MLflow's failed HTTP requests are shortened to the URL and the system's
    reason ("Connection refused").
    """
    text = str(error).strip()
    failed, reason = _FAILED_REQUEST.search(text), _SYSTEM_ERROR.findall(text)
    if failed:
        why = reason[-1].strip() if reason else ("timed out" if "timed out" in text.lower() else "no answer")
        return mask(f"cannot reach {failed['url'].split('/api/')[0]}: {why}")
    lines = text.splitlines()
    return mask(f"{type(error).__name__}: {lines[0] if lines else ''}")[:300].rstrip(": ")


def numbers_text(numbers: list[int], limit: int = 20) -> str:
    """``1, 2, 3`` (the first ``limit``, then "and N more")."""
    shown = ", ".join(map(str, numbers[:limit]))
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def quote(text: str) -> str:
    """``text`` as a single-quoted string literal of an MLflow search filter."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def get_or_create_experiment(client: Any, name: str) -> str:
    """The id of experiment ``name`` (restored if deleted), created if missing, also when workers race."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # created by a concurrent worker
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def run_context_tags() -> dict[str, str]:
    """The source and user tags ``mlflow.start_run`` would add (git tags left out: they cost a subprocess)."""
    from mlflow.tracking.context.registry import resolve_tags

    return {k: v for k, v in resolve_tags().items() if not k.startswith("mlflow.source.git")}
