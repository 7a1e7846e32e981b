"""Finds the models that can be tuned, through the ``search.models`` entry points.

Built-in and third-party models are found the same way, so the plugin path is
the only path. A third-party package adds a model with::

    [project.entry-points."search.models"]
    my-model = "my_package.my_module:MODEL"
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import entry_points

from models import ModelSpec
from search.errors import InputError, SearchError

GROUP = "search.models"
#: The name that tunes every registered model fitting the data's task in one study (``search study all``).
ALL_MODELS = "all"


class UnknownModelError(InputError, LookupError):
    """No registered model has the name asked for."""


class BrokenPluginError(SearchError):
    """A registered entry point does not load to a `ModelSpec`; the message names the plugin."""


@cache
def registered_models() -> dict[str, ModelSpec]:
    """Every registered model by its canonical name, sorted by entry-point name.

    A plugin that fails to load stops the command with its name and error:
    silently leaving it out would make its studies fail later with "unknown model".
    """
    found: dict[str, ModelSpec] = {}
    for entry_point in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        try:
            spec = entry_point.load()
        except Exception as error:
            raise BrokenPluginError(
                f"model plugin {entry_point.name!r} ({entry_point.value}) failed to load: {error}"
            ) from error
        if not isinstance(spec, ModelSpec):
            raise BrokenPluginError(
                f"model plugin {entry_point.name!r} ({entry_point.value}) is not a models.ModelSpec"
            )
        found.setdefault(spec.name, spec)
    return found


def names_all(names: list[str] | tuple[str, ...]) -> bool:
    """Whether ``names`` is `ALL_MODELS` alone (in any case, with any spaces)."""
    return [name.strip().lower() for name in names] == [ALL_MODELS]


def models_named(names: list[str] | tuple[str, ...]) -> list[ModelSpec]:
    """The models ``names`` name; `ALL_MODELS` alone is every registered one."""
    if names_all(names):
        return list(registered_models().values())
    return [get_model(name) for name in names]


def get_model(name: str) -> ModelSpec:
    """The model registered under ``name`` or one of its aliases (case-insensitive)."""
    wanted = name.strip().lower()
    names = {alias.lower(): spec for spec in registered_models().values() for alias in spec.names}
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, names, n=1)
    hint = f"did you mean {names[close[0]].name!r}? " if close else ""
    known = ", ".join(registered_models()) or "none"
    raise UnknownModelError(f"unknown model {name!r}; {hint}known models: {known}")
