"""Loading the data a study tunes on, split once into train and test.

The default is the original prototype's synthetic problem; scikit-learn's
bundled datasets work by name (no download) and any CSV file by path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search import defaults
from search.errors import InputError
from search.seeds import check_seed

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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
        check_seed(self.split_seed, "--split-seed")
        if self.target is not None and is_named(self.source):
            raise DataError(
                f"--target names a CSV file's label column; {self.source!r} is a bundled dataset with its own labels"
            )

    @property
    def label(self) -> str:
        """How the study's settings name the data: a CSV file by its absolute path, from wherever it was named."""
        source = self.source if is_named(self.source) else str(Path(self.source).resolve())
        return source if self.target is None else f"{source} (target={self.target})"

    @classmethod
    def from_label(cls, label: str, test_size: float, split_seed: int) -> DataSpec:
        """The spec a study's settings name (the inverse of `label`)."""
        source, _, target = label.partition(" (target=")
        return cls(source, target[:-1] if target.endswith(")") else None, test_size, split_seed)

    def load(self) -> Dataset:
        """The data, split into train and test, stratified by class."""
        raw = _load(self.source, self.target)
        from sklearn.model_selection import train_test_split

        if len(set(raw.y.tolist())) < 2:
            raise DataError(f"{raw.description} has only one class: a classifier needs at least two")
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                raw.X, raw.y, test_size=self.test_size, random_state=self.split_seed, stratify=raw.y
            )
        except ValueError as error:
            raise DataError(f"cannot split {raw.description} into train and test: {error}") from None
        return Dataset(raw.description, X_train, X_test, y_train, y_test, name=raw.name,
                       feature_names=raw.feature_names, target_name=raw.target_name,
                       origin={**raw.origin, "test_size": self.test_size, "split_seed": self.split_seed})


@dataclass(frozen=True)
class Dataset:
    """A train/test split, and where it came from (what MLflow records as the runs' data)."""

    source: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    #: Short name: ``synthetic``, ``iris``, ``my.csv``.
    name: str = ""
    feature_names: tuple[str, ...] = ()
    target_name: str = "target"
    #: How to get it again: the generator and its arguments, the bundled loader, or the file.
    origin: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return len(self.y_train) + len(self.y_test)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def features(self, part: str = "train") -> pd.DataFrame:
        """The features of the ``train`` or ``test`` split, with their column names."""
        import pandas as pd

        return pd.DataFrame(self.X_train if part == "train" else self.X_test, columns=list(self.feature_names))


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


@dataclass(frozen=True)
class _Raw:
    X: np.ndarray
    y: np.ndarray
    description: str
    name: str
    feature_names: tuple[str, ...]
    target_name: str
    origin: dict[str, Any]


#: The original prototype's synthetic problem.
SYNTHETIC = {"n_samples": 1000, "n_features": 20, "n_informative": 5, "random_state": 123}


def _load(source: str, target: str | None) -> _Raw:
    name = source.strip()
    if name.lower() in (defaults.DATA, "default"):
        from sklearn.datasets import make_classification

        X, y = make_classification(**SYNTHETIC)
        features = tuple(f"x{i}" for i in range(X.shape[1]))
        origin = {"function": "sklearn.datasets.make_classification", **SYNTHETIC}
        return _Raw(X, y, defaults.DATA, defaults.DATA, features, "target", origin)
    if name.lower() in BUNDLED:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name.lower()}")()
        features = tuple(str(f) for f in bunch.feature_names)
        origin = {"function": f"sklearn.datasets.load_{name.lower()}"}
        return _Raw(bunch.data, bunch.target, name.lower(), name.lower(), features, "target", origin)
    if target is None:
        raise DataError(
            f"{source!r} is not a bundled dataset ({defaults.DATA}, {', '.join(BUNDLED)}); "
            "for a CSV file, name its label column with --target"
        )
    return _load_csv(Path(source), target)


def read_features(path: Path) -> pd.DataFrame:
    """A CSV file's rows, or a one-line `DataError` saying why it cannot be read."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"cannot read data file {str(path)!r}: no such file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        from search.tracking import one_line

        raise DataError(f"cannot read data file {str(path)!r}: {one_line(error)}") from None
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has no rows")
    return frame


def check_numeric(features: pd.DataFrame, source: str) -> None:
    """Refuse feature columns a model cannot take: non-numeric, missing or infinite values.

    ``source`` names the features in the message (``data file 'x.csv'``, ``the request``).
    """
    import numpy as np
    import pandas as pd

    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(f"{source} has non-numeric feature columns: {', '.join(non_numeric[:10])}")
    if features.isna().any().any():
        raise DataError(f"{source} has missing values")
    if not np.isfinite(features.to_numpy(dtype=float)).all():
        raise DataError(f"{source} has infinite values")


def _load_csv(path: Path, target: str) -> _Raw:
    frame = read_features(path)
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"data file {str(path)!r} has no target column {target!r} (columns: {columns})")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"data file {str(path)!r} has no feature columns besides {target!r}")
    check_numeric(features, f"data file {str(path)!r}")
    if frame[target].isna().any():
        raise DataError(f"data file {str(path)!r} has missing values")
    return _Raw(features.to_numpy(dtype=float), frame[target].to_numpy(), f"{path.resolve()} (target={target})",
                path.name, tuple(str(c) for c in features.columns), target, {"uri": str(path.resolve())})
