"""``search models``, ``search best`` and ``search trials``: reading what is registered and what studies found."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated, Any

import typer

from search.cli import _options as opt
from search.cli._output import table
from search.errors import InputError
from search.urls import DEFAULT_STORAGE

FORMATS = ("table", "json", "csv")


def models() -> None:
    """List the registered models and their search spaces."""
    from search.registry import registered_models

    rows = []
    for spec in registered_models().values():
        for i, p in enumerate(spec.params):
            rows.append([spec.name if i == 0 else "", ", ".join(spec.aliases) if i == 0 else "", p.name,
                         "none" if p.default is None else p.default, p.space()])
    print(table(["model", "aliases", "parameter", "default", "search space"], rows))


def _load(study_name: str, storage: str):
    import optuna

    from search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = open_storage(storage, read_only=True)
    try:
        return optuna.load_study(study_name=study_name, storage=backend)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
        raise InputError(f"no study {study_name!r} in the storage; it has: {', '.join(names) or 'none'}") from None


def _check_format(fmt: str) -> str:
    if fmt.lower() not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fmt.lower()


def _emit(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows if len(rows) != 1 else rows[0], indent=2, default=str))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        headers = list(dict.fromkeys(k for row in rows for k in row))
        print(table(headers, [[row.get(h) for h in headers] for row in rows]))


def best(
    study_name: Annotated[str, typer.Argument(help="The study's name.")],
    storage: opt.Storage = DEFAULT_STORAGE,
    fmt: opt.Format = "table",
) -> None:
    """Show the best trial of a study: value, params and held-out test scores."""
    from search.tracking import METRICS_ATTRIBUTE_KEY

    fmt = _check_format(fmt)
    study = _load(study_name, storage)
    try:
        trial = study.best_trial
    except ValueError:
        raise InputError(f"study {study_name!r} has no completed trial yet") from None
    row = {"study": study_name, "trial": trial.number, "value": trial.value, **trial.params}
    row.update(trial.user_attrs.get(METRICS_ATTRIBUTE_KEY, {}))
    if fmt == "table":
        for key, value in row.items():
            print(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
    else:
        _emit([row], fmt)


def trials(
    study_name: Annotated[str, typer.Argument(help="The study's name.")],
    storage: opt.Storage = DEFAULT_STORAGE,
    fmt: opt.Format = "table",
) -> None:
    """List a study's trials: number, state, value, duration and params."""
    fmt = _check_format(fmt)
    study = _load(study_name, storage)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        rows.append({"number": trial.number, "state": trial.state.name, "value": trial.value,
                     "duration_s": duration, **trial.params})
    if not rows:
        print("[]" if fmt == "json" else f"study {study_name!r} has no trials yet", file=sys.stdout)
        return
    _emit(rows, fmt)
