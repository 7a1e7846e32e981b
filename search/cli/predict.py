"""``search predict``: a logged model's predictions for a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt
from search.data import read_features
from search.deliverable.predictions import load_model, model_uri, spreadsheet_safe
from search.errors import InputError
from search.stores.tracking_store import check_existing_store
from search.stores.urls import resolve_storage, resolve_tracking


def predict(
    model: Annotated[
        str,
        typer.Argument(metavar="MODEL", show_default=False,
                       help="models:/NAME@champion, models:/NAME/VERSION, runs:/RUN/model, or a study's name."),
    ],
    *,
    data: Annotated[Path, typer.Option("--data", help="A CSV file with the model's feature columns.")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the predictions here (default: stdout).")
    ] = None,
    tracking_uri: opt.TrackingUri = None,
    storage: opt.Storage = defaults.STORAGE,
    trust_unsafe_format: Annotated[
        bool,
        typer.Option("--trust-unsafe-format", help="Load a model stored as pickle or cloudpickle (or holding types "
                     "no installed model declares): loading it runs code its author chose. Only for models you "
                     "trust."),
    ] = False,
) -> None:
    """Predict with a logged model, for each row of a CSV file.

    Prints a CSV: the prediction, then each class's probability. The file must
    have exactly the columns the model was trained on.
    """
    rows = read_features(data)  # before MLflow is imported: a wrong file or folder is said at once
    if output is not None and not output.parent.is_dir():
        raise InputError(f"cannot write {str(output)!r}: no such directory {str(output.parent)!r}")

    import mlflow

    tracking = resolve_tracking(tracking_uri)
    check_existing_store(tracking)
    mlflow.set_tracking_uri(tracking.url)  # models:/ and runs:/ URIs are read from this store
    uri = model_uri(model, tracking, resolve_storage(storage))
    predictions = spreadsheet_safe(load_model(uri, trust_unsafe=trust_unsafe_format).predict(rows, str(data)))
    # Six significant digits: what a probability or a prediction means, not float noise.
    if output is None:
        print(predictions.to_csv(index=False, float_format="%.6g"), end="")
        return
    try:
        predictions.to_csv(output, index=False, float_format="%.6g")
    except OSError as error:
        raise InputError(f"cannot write {str(output)!r}: {error.strerror or error}") from None
    print(f"Wrote {len(predictions)} predictions to {output}")
