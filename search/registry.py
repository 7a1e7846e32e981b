"""Finds the models that can be tuned, through the ``search.models`` entry points.

Built-in and third-party models are found the same way, so the plugin path is
the only path. A third-party package adds a model with::

    [project.entry-points."search.models"]
    my-model = "my_package.my_module:MODEL"
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from models import ModelSpec
from search.errors import InputError, SearchError

GROUP = "search.models"


class UnknownModelError(InputError, LookupError):
    """No registered model has the name asked for."""


class BrokenPluginError(SearchError):
    """A registered entry point does not load to a `ModelSpec`."""


@cache
def registered_models() -> dict[str, ModelSpec]:
    """Every registered model by its canonical name, in registration order."""
    found: dict[str, ModelSpec] = {}
    for entry_point in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        try:
            spec = entry_point.load()
        except Exception as error:  # a broken plugin must not hide the others' names
            raise BrokenPluginError(
                f"model plugin {entry_point.name!r} ({entry_point.value}) failed to load: {error}"
            ) from error
        if not isinstance(spec, ModelSpec):
            raise BrokenPluginError(
                f"model plugin {entry_point.name!r} ({entry_point.value}) is not a models.ModelSpec"
            )
        found.setdefault(spec.name, spec)
    return found


def get_model(name: str) -> ModelSpec:
    """The model registered under ``name`` or one of its aliases (case-insensitive)."""
    wanted = name.strip().lower()
    for spec in registered_models().values():
        if wanted in (n.lower() for n in spec.names):
            return spec
    known = ", ".join(registered_models()) or "none"
    raise UnknownModelError(f"unknown model {name!r}; known models: {known}")
