"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Data = Annotated[
    str,
    typer.Option(
        "--data",
        help="'synthetic' (the original data), iris, wine, breast_cancer, digits, or a CSV file (with --target).",
        rich_help_panel="Data",
    ),
]
Target = Annotated[Optional[str], typer.Option("--target", help="Label column of a CSV file.", rich_help_panel="Data")]
TestSize = Annotated[
    float, typer.Option("--test-size", help="Fraction held out for the test score.", rich_help_panel="Data")
]
SplitSeed = Annotated[int, typer.Option("--split-seed", help="Seed of the train/test split.", rich_help_panel="Data")]
Metric = Annotated[
    str,
    typer.Option("--metric", help="A scikit-learn scorer name (accuracy, f1_macro, roc_auc, ...).", rich_help_panel="Evaluation"),
]
Folds = Annotated[int, typer.Option("--cv", help="Cross-validation folds on the training split.", rich_help_panel="Evaluation")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Random seed of the sampler and the estimator.")]
TrackingUri = Annotated[
    Optional[str],
    typer.Option(
        "--tracking-uri",
        envvar="SEARCH_TRACKING_URI",
        help="MLflow tracking URI. Default: $SEARCH_TRACKING_URI, else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.",
        rich_help_panel="Tracking",
    ),
]
Experiment = Annotated[
    Optional[str], typer.Option("--experiment", help="MLflow experiment (default: the study or model name).", rich_help_panel="Tracking")
]
Storage = Annotated[
    str,
    typer.Option(
        "--storage",
        envvar="SEARCH_STORAGE",
        help="Optuna storage: sqlite:///optuna.db, postgresql://..., redis://..., or a file ending in .journal.",
        rich_help_panel="Tracking",
    ),
]
Format = Annotated[str, typer.Option("--format", help="table, json or csv.")]
