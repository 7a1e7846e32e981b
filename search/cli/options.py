"""Options shared by several commands, declared once, with their defaults from `search.defaults`."""

from __future__ import annotations

from typing import Annotated

import typer

from search import defaults
from search.defaults import Task

Data = Annotated[
    str,
    typer.Option(
        "--data",
        help="'synthetic' (the original data), iris, wine, breast_cancer, digits, diabetes (regression), "
        "penguins (strings and blanks), or a CSV file (with --target).",
    ),
]
Target = Annotated[str | None, typer.Option("--target", help="Target column of a CSV file.")]
TaskOption = Annotated[
    Task | None,
    typer.Option("--task", help="classification or regression (default: inferred from the target, see the README)."),
]
TestSize = Annotated[float, typer.Option("--test-size", help="Fraction held out for the test score.")]
SplitSeed = Annotated[int, typer.Option("--split-seed", help="Seed of the train/test split.")]
Metric = Annotated[
    str | None,
    typer.Option("--metric", help="A scikit-learn scorer name (accuracy, f1_macro, roc_auc; for regression rmse, mae, "
                 "r2, ...). Default: accuracy, or rmse for regression (lower is better)."),
]
Folds = Annotated[int, typer.Option("--cv", help="Cross-validation folds on the training split.")]
TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="SEARCH_TRACKING_URI",
        help="MLflow tracking URI. Default: $SEARCH_TRACKING_URI, else $MLFLOW_TRACKING_URI, "
        f"else {defaults.TRACKING_URI}.",
    ),
]
Storage = Annotated[
    str,
    typer.Option(
        "--storage",
        envvar="SEARCH_STORAGE",
        help=f"Optuna storage: {defaults.STORAGE}, postgresql://..., redis://..., or a file ending in .journal.",
    ),
]
Register = Annotated[
    str | None,
    typer.Option("--register", envvar="SEARCH_REGISTER", metavar="NAME",
                 help="Register the (best) model as a version of NAME; it becomes NAME@champion if it scores "
                 "higher than the champion on the same metric and data."),
]
Format = Annotated[defaults.OutputFormat, typer.Option("--format", case_sensitive=False, help="How to print.")]
