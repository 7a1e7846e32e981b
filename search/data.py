"""Loading the data a study tunes on, split once into train and test.

The default is the original prototype's synthetic problem; the datasets of
`search.datasets` work by name (no download) and any CSV file by path. A table
is taken as it is: strings, booleans and blanks included (`search.columns`
says what each column is), for classification or regression (`search.tasks`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import Columns
from search import defaults
from search.columns import column_roles, notes, width_note
from search.datasets import BUNDLED, load_named
from search.defaults import Task
from search.errors import DataError
from search.seeds import check_seed
from search.targets import check_split, checked_target
from search.tasks import infer_task
from search.text import one_line

if TYPE_CHECKING:
    import pandas as pd

@dataclass(frozen=True)
class DataSpec:
    """Which data, and how it is split: what ``--data``, ``--target``, ``--test-size`` and ``--split-seed`` say."""

    source: str = defaults.DATA
    target: str | None = None
    test_size: float = defaults.TEST_SIZE
    split_seed: int = defaults.SPLIT_SEED
    #: None: inferred from the target (`search.tasks`).
    task: Task | None = None
    #: A table given in memory (`search.tune`), holding the ``target`` column; ``source`` names it.
    frame: pd.DataFrame | None = field(default=None, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.task is not None:
            if self.task not in tuple(Task):
                raise DataError(f"--task must be one of {', '.join(Task)}, got {self.task!r}")
            object.__setattr__(self, "task", Task(self.task))
        if not 0.0 < self.test_size < 1.0:
            raise DataError(f"--test-size must be between 0 and 1 (exclusive), got {self.test_size}")
        check_seed(self.split_seed, "--split-seed")
        if self.target is not None and is_named(self.source):
            raise DataError(
                f"--target names a CSV file's label column; {self.source!r} is a bundled dataset with its own labels"
            )

    @property
    def label(self) -> str:
        """How the study's settings name the data: a CSV file by its absolute path, from wherever it was named."""
        in_memory = is_named(self.source) or self.frame is not None or self.source.startswith(FRAME_PREFIX)
        source = self.source if in_memory else str(Path(self.source).resolve())
        return source if self.target is None else f"{source} (target={self.target})"

    @classmethod
    def from_label(cls, label: str, *, test_size: float, split_seed: int, task: Task | None = None) -> DataSpec:
        """The spec a study's settings name (the inverse of `label`)."""
        source, _, target = label.partition(" (target=")
        return cls(source, target[:-1] if target.endswith(")") else None, test_size, split_seed, task)

    def load(self) -> Dataset:
        """The data, split into train and test (stratified by class for classification)."""
        if self.frame is not None:
            raw = _from_table(self.frame, self.target or "", f"the {self.source}", self.source, {"name": self.source})
        else:
            raw = _load(self.source, self.target)
        from sklearn.model_selection import train_test_split

        task = self.task or infer_task(raw.y)
        y = checked_target(raw.y, task, raw.description, raw.target_name)
        check_split(y, task, self.test_size, raw.description)
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                raw.X, y, test_size=self.test_size, random_state=self.split_seed,
                stratify=y if task == Task.classification else None,
            )
        except ValueError as error:
            raise DataError(f"cannot split {raw.description} into train and test: {one_line(error)}") from None
        columns = column_roles(raw.X)
        if not columns.numeric and not columns.categorical:
            left_out = notes(columns)
            more = f"; and {len(left_out) - 3} more" if len(left_out) > 3 else ""
            raise DataError(f"{raw.description} has no usable feature column ({'; '.join(left_out[:3])}{more})")
        return Dataset(raw.description, X_train, X_test, y_train, y_test, name=raw.name,
                       target_name=raw.target_name, task=task, columns=columns,
                       notes=(*raw.notes, *notes(columns), *width_note(columns, len(raw.X))),
                       origin={**raw.origin, "test_size": self.test_size, "split_seed": self.split_seed})


@dataclass(frozen=True)
class Dataset:
    """A train/test split, and where it came from (what MLflow records as the runs' data)."""

    source: str
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    #: Short name: ``synthetic``, ``iris``, ``my.csv``.
    name: str = ""
    target_name: str = "target"
    task: Task = Task.classification
    #: What each feature column is (numbers, categories, left out).
    columns: Columns = field(default_factory=Columns)
    #: What was left out, and why, in words (columns, rows without a target).
    notes: tuple[str, ...] = ()
    #: How to get it again: the generator and its arguments, the bundled loader, or the file.
    origin: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return len(self.y_train) + len(self.y_test)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Every feature column, the left-out ones included: what a row given to the model holds."""
        return tuple(self.X_train.columns)

    def features(self, part: str = "train") -> pd.DataFrame:
        """The features of the ``train`` or ``test`` split (a copy), with their column names."""
        return (self.X_train if part == "train" else self.X_test).copy()


def load_dataset(
    source: str = defaults.DATA,
    target: str | None = None,
    test_size: float = defaults.TEST_SIZE,
    split_seed: int = defaults.SPLIT_SEED,
    task: Task | None = None,
) -> Dataset:
    """Load ``source`` and split it (stratified by class for classification).

    Args:
        source: ``"synthetic"`` (the original data), a dataset name of
            `search.datasets` (``iris``, ``diabetes``, ``penguins``...) or a CSV path.
        target: The target column, required for a CSV file.
        test_size: Fraction of samples held out for the test score.
        split_seed: Seed of the train/test split.
        task: ``classification`` or ``regression`` (default: inferred from the target).
    """
    return DataSpec(source, target, test_size, split_seed, task).load()


def is_named(source: str) -> bool:
    """Whether ``source`` names the synthetic or a bundled dataset (not a CSV file)."""
    return source.strip().lower() in (defaults.DATA, "default", *BUNDLED)


@dataclass(frozen=True)
class _Raw:
    X: pd.DataFrame
    y: pd.Series
    description: str
    name: str
    target_name: str
    origin: dict[str, Any]
    notes: tuple[str, ...] = ()


#: How a study names a table given in memory, before its digest ("dataframe 3f2a…").
FRAME_PREFIX = "dataframe "


def _load(source: str, target: str | None) -> _Raw:
    if source.startswith(FRAME_PREFIX):
        raise DataError(f"the study's data was a DataFrame given to search.tune ({source}), which is not stored: "
                        "call search.tune with it again")
    name = source.strip().lower()
    if is_named(name):
        named = load_named(name)
        name = defaults.DATA if name == "default" else name
        return _Raw(named.X, named.y, name, name, named.target_name, named.origin)
    if target is None:
        raise DataError(
            f"{source!r} is not a bundled dataset ({defaults.DATA}, {', '.join(BUNDLED)}); "
            "for a CSV file, name its target column with --target"
        )
    return _load_csv(Path(source), target)


def read_features(path: Path, target: str | None = None) -> pd.DataFrame:
    """A CSV file's rows, or a one-line `DataError` saying why it cannot be read (or has no ``target`` column).

    A UTF-8 byte-order mark (Excel writes one) is not part of the first column's name.
    """
    _check_is_a_file(path)  # before pandas is imported: a wrong path, header or target is said at once
    try:
        header = _check_header(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read data file {str(path)!r}: {one_line(error)}") from None
    if target is not None and header and target not in header:
        raise DataError(_no_target(f"data file {str(path)!r}", target, header))
    import pandas as pd

    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError) as error:
        raise DataError(f"cannot read data file {str(path)!r}: {one_line(error)}") from None
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has no rows")
    return frame


def _check_is_a_file(path: Path) -> None:
    """Refuse what is not a regular file, saying what it is (a folder, a device, a pipe, nothing)."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"cannot read data file {str(path)!r}: no such file") from None
    except OSError as error:
        raise DataError(f"cannot read data file {str(path)!r}: {error.strerror or error}") from None
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISCHR: "a device", stat.S_ISBLK: "a device",
             stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISSOCK: "a socket"}
    what = next((kind for test, kind in kinds.items() if test(mode)), None)
    if what is not None:
        raise DataError(f"data file {str(path)!r} is {what}, not a CSV file")


def _check_header(path: Path) -> list[str]:
    """A CSV file's column names; refused if one is there twice (pandas would quietly rename the second ``x0.1``)."""
    from collections import Counter

    with open(path, newline="", encoding="utf-8-sig") as file:
        header = next(csv.reader(file), [])
    twice = [name for name, count in Counter(header).items() if count > 1]
    if twice:
        raise DataError(f"data file {str(path)!r} has the column name {twice[0]!r} more than once: "
                        "give each column its own name")
    return header


def _no_target(where: str, target: str, columns: Sequence[Any]) -> str:
    return f"{where} has no target column {target!r} (columns: {', '.join(map(str, columns[:20]))})"


def _load_csv(path: Path, target: str) -> _Raw:
    frame = read_features(path, target)
    return _from_table(frame, target, f"data file {str(path)!r}", path.name, {"uri": str(path.resolve())},
                       description=f"{path.resolve()} (target={target})")


def _from_table(frame: pd.DataFrame, target: str, where: str, name: str, origin: dict[str, Any], *,
                description: str | None = None) -> _Raw:
    """A table's features and target; rows without a target are left out with a note."""
    if target not in frame.columns:
        raise DataError(_no_target(where, target, list(frame.columns)))
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"{where} has no feature columns besides {target!r}")
    if features.select_dtypes("number").isin([float("inf"), float("-inf")]).any().any():
        raise DataError(f"{where} has infinite values")
    values = frame[target]
    blank = values.isna() | values.map(lambda value: isinstance(value, str) and not value.strip())  # "  " too
    notes: tuple[str, ...] = ()
    if blank.all():
        raise DataError(f"{where} has no value in its target column {target!r}")
    if blank.any():
        notes = (f"{int(blank.sum())} row(s) with no {target!r} are left out",)
        frame, features = frame[~blank], features[~blank]
    return _Raw(features.reset_index(drop=True), frame[target].reset_index(drop=True),
                description or name, name, target, origin, notes)
