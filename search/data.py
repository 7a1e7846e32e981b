"""Loading the data a study tunes on, split once into train and test.

The default is the original prototype's synthetic problem; scikit-learn's
bundled datasets work by name (no download) and any CSV file by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from search import defaults
from search.errors import InputError

if TYPE_CHECKING:
    import numpy as np

BUNDLED = ("iris", "wine", "breast_cancer", "digits")


class DataError(InputError):
    """The data cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class DataSpec:
    """Which data, and how it is split: what ``--data``, ``--target``, ``--test-size`` and ``--split-seed`` say."""

    source: str = defaults.DATA
    target: str | None = None
    test_size: float = defaults.TEST_SIZE
    split_seed: int = defaults.SPLIT_SEED

    def __post_init__(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise DataError(f"--test-size must be between 0 and 1 (exclusive), got {self.test_size}")
        if self.split_seed < 0:
            raise DataError(f"--split-seed must be 0 or more, got {self.split_seed}")
        if self.target is not None and is_named(self.source):
            raise DataError(
                f"--target names a CSV file's label column; {self.source!r} is a bundled dataset with its own labels"
            )

    @property
    def label(self) -> str:
        """How the study's settings name the data."""
        return self.source if self.target is None else f"{self.source} (target={self.target})"

    def load(self) -> Dataset:
        """The data, split into train and test, stratified by class."""
        X, y, description = _load_arrays(self.source, self.target)
        from sklearn.model_selection import train_test_split

        classes = len(set(y.tolist()))
        if classes < 2:
            raise DataError(f"{description} has only one class: a classifier needs at least two")

        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=self.test_size, random_state=self.split_seed, stratify=y
            )
        except ValueError as error:
            raise DataError(f"cannot split {description} into train and test: {error}") from None
        return Dataset(description, X_train, X_test, y_train, y_test)


@dataclass(frozen=True)
class Dataset:
    """A train/test split and where it came from."""

    source: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray

    @property
    def n_samples(self) -> int:
        return len(self.y_train) + len(self.y_test)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load_dataset(
    source: str = defaults.DATA,
    target: str | None = None,
    test_size: float = defaults.TEST_SIZE,
    split_seed: int = defaults.SPLIT_SEED,
) -> Dataset:
    """Load ``source`` and split it, stratified by class.

    Args:
        source: ``"synthetic"`` (the original data), a bundled dataset name
            (``iris``, ``wine``, ``breast_cancer``, ``digits``) or a CSV path.
        target: The label column, required for a CSV file.
        test_size: Fraction of samples held out for the test score.
        split_seed: Seed of the train/test split.
    """
    return DataSpec(source, target, test_size, split_seed).load()


def is_named(source: str) -> bool:
    """Whether ``source`` names the synthetic or a bundled dataset (not a CSV file)."""
    return source.strip().lower() in (defaults.DATA, "default", *BUNDLED)


def _load_arrays(source: str, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    name = source.strip()
    if name.lower() in (defaults.DATA, "default"):
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=1000, n_features=20, n_informative=5, random_state=123)
        return X, y, defaults.DATA
    if name.lower() in BUNDLED:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{name.lower()}")(return_X_y=True)
        return X, y, name.lower()
    if target is None:
        raise DataError(
            f"{source!r} is not a bundled dataset ({defaults.DATA}, {', '.join(BUNDLED)}); "
            "for a CSV file, name its label column with --target"
        )
    return _load_csv(Path(source), target)


def _load_csv(path: Path, target: str) -> tuple[np.ndarray, np.ndarray, str]:
    import numpy as np
    import pandas as pd

    if not path.is_file():
        raise DataError(f"cannot read data file {str(path)!r}: no such file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot read data file {str(path)!r}: {first_line}") from None
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"data file {str(path)!r} has no target column {target!r} (columns: {columns})")
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has no rows")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"data file {str(path)!r} has no feature columns besides {target!r}")
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(
            f"data file {str(path)!r} has non-numeric feature columns: {', '.join(non_numeric[:10])}"
        )
    if features.isna().any().any() or frame[target].isna().any():
        raise DataError(f"data file {str(path)!r} has missing values")
    if not np.isfinite(features.to_numpy(dtype=float)).all():
        raise DataError(f"data file {str(path)!r} has infinite values")
    return features.to_numpy(dtype=float), frame[target].to_numpy(), f"{path.resolve()} (target={target})"
