"""What each feature column of a table is: a number, a category, or something to leave out.

The rules, as the README states them: a numeric column (not boolean) is
numeric; any other column (strings, booleans, dates as text) is categorical;
a column with one value or none is dropped as constant; a text column with a
different value in every row, or a whole-number column counting 0, 1, 2... or
1, 2, 3... is dropped as an ID. Dropped columns stay in the model's input (a
raw row still has them) and are ignored by its preprocessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import Columns

if TYPE_CHECKING:
    import pandas as pd

#: Fewer rows than this and a column unique per row may be chance, not an ID.
MIN_ROWS_FOR_ID = 20


def column_roles(features: pd.DataFrame) -> Columns:
    """The role of each of ``features``' columns, by the rules in this module's docstring."""
    import pandas as pd

    numeric, categorical, dropped = [], [], {}
    for name in features.columns:
        column = features[name]
        values = column.dropna()
        is_number = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if values.nunique() <= 1:
            dropped[str(name)] = "constant" if len(values) else "empty"
        elif _is_id(values, len(column), is_number=is_number):
            dropped[str(name)] = "an ID (unique per row)"
        elif is_number:
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return Columns(tuple(numeric), tuple(categorical), dropped)


def _is_id(values: pd.Series, rows: int, *, is_number: bool) -> bool:
    import pandas as pd

    if rows < MIN_ROWS_FOR_ID or len(values) < rows or values.nunique() < rows:
        return False
    if not is_number:
        return True
    if not pd.api.types.is_integer_dtype(values):
        return False
    ordered = values.sort_values().to_numpy()
    return ordered[0] in (0, 1) and bool((ordered[1:] - ordered[:-1] == 1).all())


def notes(columns: Columns) -> list[str]:
    """The dropped columns in words, for the study's summary; and names that may mean one column twice."""
    said = [f"column {name!r} is left out: {why}" for name, why in columns.dropped.items()]
    seen: dict[str, str] = {}
    for name in (*columns.numeric, *columns.categorical, *columns.dropped):
        first = seen.setdefault(name.strip().casefold(), name)
        if first != name:
            said.append(f"columns {first!r} and {name!r} differ only in case or spaces: they are taken as two "
                        "features (rename one, or leave it out, if they are the same)")
    return said
