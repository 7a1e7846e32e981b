"""``search models``: the registered models and their search spaces."""

from __future__ import annotations

from search.plugins import ALL_MODELS, registered_models


def models() -> None:
    """List the models, their parameters and search spaces.

    Built-in and plugin models alike (see the README's "Adding a model").
    """
    rows = []
    for spec in registered_models().values():
        for i, param in enumerate(spec.params):
            conditions = [f"{param.task} only"] if param.task else []
            conditions += [f"when {param.condition()}"] if param.when else []
            space = param.describe() + (f" ({'; '.join(conditions)})" if conditions else "")
            rows.append({
                "model": spec.name if i == 0 else "",
                "tasks": ", ".join(spec.tasks) if i == 0 else "",
                "aliases": ", ".join(spec.aliases) if i == 0 else "",
                "parameter": param.name,
                "default": "none" if param.default is None else param.default,
                "search space": space,
            })
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}
    for row in [dict(zip(columns, columns, strict=True)), *rows]:
        print(" ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
    print(f"\n'search study {ALL_MODELS}' tunes every model above that fits the data's task, in one study.")
    print("\nHow one fit's work is bounded (and every trial by --trial-timeout; see 'search study --help'):")
    width = max(len(name) for name in registered_models())
    for name, spec in registered_models().items():
        print(f"  {name.ljust(width)}  {spec.work_bound or 'not declared by the model'}")
