"""Names a user gives things (a study, an experiment, a registered model): checked once, before anything is made.

A study's name is also its MLflow experiment's and its parent run's, and goes
into MLflow search filters and ``search sync`` commands: so no control
characters (a newline would break every one of them), not blank, and at most
what MLflow keeps. ``/`` is allowed: Optuna and MLflow both take it.
A registered model's name goes into ``models:/NAME@champion`` URIs, which
``/``, ``:`` and ``@`` would break.
"""

from __future__ import annotations

import unicodedata

from search.errors import InputError

#: Longest study or experiment name: the parent run is named after the study, and MLflow keeps 250 characters.
MAX_NAME_LENGTH = 250
#: Characters a registered model's name cannot hold.
FORBIDDEN_IN_MODEL_NAMES = "/:@"


def check_name(name: str, option: str) -> None:
    """Refuse a study or experiment name that is blank, holds a control character, or is too long."""
    if not name.strip():
        raise InputError(f"{option} must not be blank")
    control = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if control is not None:
        raise InputError(f"{option} {name[:60]!r} holds the control character {control!r}: use printable characters")
    if name != name.strip():
        raise InputError(f"{option} {name!r} begins or ends with white space")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{option} is {len(name)} characters long; MLflow keeps at most {MAX_NAME_LENGTH}")


def check_registered_name(name: str | None, *, log_model: bool = True) -> None:
    """Refuse a registered-model name that would break model URIs, or nothing to register."""
    if name is None:
        return
    if not name.strip() or any(c in name for c in FORBIDDEN_IN_MODEL_NAMES):
        raise InputError(f"--register {name!r}: a registered model's name cannot be blank or contain / : @")
    check_name(name, "--register")
    if not log_model:
        raise InputError("--register needs the best model logged: drop --no-log-model")
