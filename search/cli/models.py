"""``search models``: the registered models and their search spaces."""

from __future__ import annotations


def models() -> None:
    """List the models, their parameters and search spaces.

    Built-in and plugin models alike (see the README's "Adding a model").
    """
    import pandas as pd

    from search.registry import registered_models

    rows = []
    for spec in registered_models().values():
        for i, param in enumerate(spec.params):
            space = param.describe() + (f" (when {param.condition()})" if param.when else "")
            rows.append({
                "model": spec.name if i == 0 else "",
                "aliases": ", ".join(spec.aliases) if i == 0 else "",
                "parameter": param.name,
                "default": "none" if param.default is None else param.default,
                "search space": space,
            })
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, justify="left", formatters=_left(frame)))


def _left(frame) -> dict:
    """Left-align every column (pandas right-aligns text by default)."""
    formatters = {}
    for column in frame.columns:
        width = max(len(str(column)), *(len(str(v)) for v in frame[column]))
        formatters[column] = lambda value, width=width: str(value).ljust(width)
    return formatters
