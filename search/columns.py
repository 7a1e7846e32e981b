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

#: From this many feature columns on, a table is said to be wide, with what that costs.
WIDE_COLUMNS = 1_000

#: Fewer rows than this and a column unique per row may be chance, not an ID.
MIN_ROWS_FOR_ID = 20


def column_roles(features: pd.DataFrame) -> Columns:
    """The role of each of ``features``' columns, by the rules in this module's docstring."""
    import pandas as pd

    distinct = features.nunique(dropna=True)  # one pass over the frame, not one per column: tables can be wide
    present = features.notna().sum()
    numeric, categorical, dropped = [], [], {}
    for position, (name, dtype) in enumerate(zip(features.columns, features.dtypes, strict=True)):
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if distinct.iloc[position] <= 1:
            dropped[str(name)] = "constant" if present.iloc[position] else "empty"
        elif distinct.iloc[position] == len(features) and _is_id(features.iloc[:, position], is_number=is_number):
            dropped[str(name)] = "an ID (unique per row)"
        elif is_number:
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return Columns(tuple(numeric), tuple(categorical), dropped)


def _is_id(values: pd.Series, *, is_number: bool) -> bool:
    """Whether ``values`` (one per row, all different) name the rows rather than describe them."""
    import pandas as pd

    if len(values) < MIN_ROWS_FOR_ID:
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


def width_note(columns: Columns, rows: int) -> list[str]:
    """What a wide table costs, said before the first trial rather than found out after it."""
    used = len(columns.numeric) + len(columns.categorical)
    if used < WIDE_COLUMNS:
        return []
    fewer_rows = f", more than its {rows:,} rows: a model can fit noise" if used > rows else ""
    return [f"a wide table, {used:,} feature columns{fewer_rows}; every fit reads each column, so trials take "
            "longer than on a narrow table: choose the columns that matter to go faster"]
