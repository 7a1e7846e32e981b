"""``search best`` and ``search trials``: what a study found, from its Optuna storage.

Tables come from Optuna's ``trials_dataframe`` and pandas; the parameters shown
are the estimator's own (``max_depth=None``), not the search space's encoding.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from search import defaults
from search.cli import options as opt
from search.deliverable.best_model import DELIVERED_ATTRIBUTE_KEY
from search.errors import InputError
from search.stores.optuna_storage import load_study
from search.stores.urls import resolve_storage
from search.tracking import METRICS_ATTRIBUTE_KEY
from search.trials import shown_params, space_of, trials_frame

if TYPE_CHECKING:
    import pandas as pd

StudyName = Annotated[str, typer.Argument(metavar="STUDY", help="The study's name.", show_default=False)]


def emit(frame: pd.DataFrame, fmt: defaults.OutputFormat, *, single: bool = False) -> None:
    """Print ``frame`` as a table, JSON or CSV (``single``: its one row, as key/value pairs or an object)."""
    if fmt is defaults.OutputFormat.csv:
        print(frame.to_csv(index=False), end="")
    elif fmt is defaults.OutputFormat.json:
        records = json.loads(frame.to_json(orient="records", double_precision=15))  # pandas: NaN → null
        print(json.dumps(records[0] if single else records, indent=2))
    elif single:
        import pandas as pd

        with pd.option_context("display.max_colwidth", None):  # a long study name whole, not cut with "..."
            print(frame.iloc[0].map(lambda v: _four(v) if isinstance(v, float) else v).to_string())
    else:
        print(frame.to_string(index=False, float_format=_four, na_rep=""))


def _four(value: float) -> str:
    return f"{value:.4f}"


def best(
    study_name: StudyName,
    storage: opt.Storage = defaults.STORAGE,
    fmt: opt.Format = defaults.OutputFormat.table,
) -> None:
    """Show a study's best trial and its test scores.

    Its cross-validated value, the estimator's parameters, and, once its model
    is delivered, the scores of that configuration fitted on the training
    split (train_*, test_*).
    """
    study = load_study(study_name, resolve_storage(storage))  # a study that is not there: said before pandas loads
    try:
        trial = study.best_trial
    except ValueError:
        raise InputError(f"study {study_name!r} has no completed trial yet") from None
    row: dict[str, Any] = {"study": study_name, "trial": trial.number, "value": trial.value}
    row.update(shown_params(space_of(study), trial, seed=True))
    scores = dict(trial.user_attrs.get(METRICS_ATTRIBUTE_KEY, {}))
    delivered = study.user_attrs.get(DELIVERED_ATTRIBUTE_KEY) or {}
    if delivered.get("trial") == trial.number:
        scores.update(delivered)
    row.update({k: v for k, v in scores.items() if k != "trial" and isinstance(v, (int, float))})
    import pandas as pd

    emit(pd.DataFrame([row]), fmt, single=True)


def trials(
    study_name: StudyName,
    storage: opt.Storage = defaults.STORAGE,
    fmt: opt.Format = defaults.OutputFormat.table,
) -> None:
    """List a study's trials, with their estimator params.

    'value' is the cross-validated score of complete trials; a pruned trial's
    score after its last fold is in 'partial'.
    """
    study = load_study(study_name, resolve_storage(storage))
    frame = trials_frame(study)
    if frame.empty:
        print("[]" if fmt is defaults.OutputFormat.json else f"study {study_name!r} has no trials yet")
        return
    emit(frame, fmt)
