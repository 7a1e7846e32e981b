"""The datasets a study can name instead of a file: shipped inside installed packages, never downloaded.

- ``synthetic``: the original prototype's problem (``make_classification``);
- ``iris``, ``wine``, ``breast_cancer``, ``digits``: scikit-learn's bundled classification sets;
- ``diabetes``: scikit-learn's bundled regression set;
- ``penguins``: the Palmer penguins table (``palmerpenguins``): string columns and blanks, species as target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search import defaults

if TYPE_CHECKING:
    import pandas as pd

#: The original prototype's synthetic problem.
SYNTHETIC = {"n_samples": 1000, "n_features": 20, "n_informative": 5, "random_state": 123}


@dataclass(frozen=True)
class Named:
    """A named dataset: its features and target as a table, and how to get them again."""

    X: pd.DataFrame
    y: pd.Series
    target_name: str
    origin: dict[str, Any]


def _synthetic() -> Named:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(**SYNTHETIC)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return Named(frame, pd.Series(y, name="target"), "target",
                 {"function": "sklearn.datasets.make_classification", **SYNTHETIC})


def _sklearn(name: str) -> Callable[[], Named]:
    def load() -> Named:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        X = bunch.data.rename(columns=str)
        return Named(X, bunch.target.rename("target"), "target", {"function": f"sklearn.datasets.load_{name}"})

    return load


def _penguins() -> Named:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    frame = frame[frame["species"].notna()]
    return Named(frame.drop(columns=["species"]), frame["species"], "species",
                 {"function": "palmerpenguins.load_penguins"})


LOADERS: dict[str, Callable[[], Named]] = {
    defaults.DATA: _synthetic,
    **{name: _sklearn(name) for name in ("iris", "wine", "breast_cancer", "digits", "diabetes")},
    "penguins": _penguins,
}
#: The names ``--data`` takes besides a file (``default`` is ``synthetic``).
BUNDLED = tuple(name for name in LOADERS if name != defaults.DATA)


def load_named(name: str) -> Named:
    """The dataset called ``name`` (one of `LOADERS`, or ``default``)."""
    key = name.strip().lower()
    return LOADERS[defaults.DATA if key == "default" else key]()
