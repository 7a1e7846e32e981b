"""``search plot``: a study's figures as PNG files, for users without the MLflow UI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from search import defaults
from search.cli import options as opt
from search.cli.results import StudyName
from search.deliverable.figures import write_figures
from search.stores.optuna_storage import load_study
from search.stores.urls import resolve_storage


def plot(
    study_name: StudyName,
    output: Annotated[Path, typer.Option("--output", help="Folder for the PNG files.")] = Path("plots"),
    storage: opt.Storage = defaults.STORAGE,
) -> None:
    """Write a study's figures (history, importances, ...) as PNG files.

    The same figures a study logs on its run: optimisation history, parameter
    importances, parallel coordinates, slices (per model, and of the model
    choice, in a study of several).
    """
    study = load_study(study_name, resolve_storage(storage))
    written, skipped = write_figures(study, output)
    for path in written:
        print(f"wrote {path}")
    for line in skipped:
        print(line)
