"""`ModelSpec`: everything the toolkit needs to know about one tunable model.

A spec is plain data, like a scikit-learn estimator's ``__init__``: the
estimator is named by its import path and only imported by `build`, when
something is actually fitted.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models._params import Param, ParamError

if TYPE_CHECKING:
    import optuna
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ModelSpec:
    """A model the toolkit can tune: its estimator, parameters and search space.

    Example::

        MODEL = ModelSpec(
            name="knn",
            aliases=("kneighbors",),
            estimator="sklearn.neighbors:KNeighborsClassifier",
            params=(Int("n_neighbors", default=5, search=(1, 50), minimum=1),),
        )

    Args:
        name: The name users type (``search run knn``).
        estimator: ``"module:Class"`` of a scikit-learn classifier.
        params: The tunable hyperparameters, each declared once.
        aliases: Other names that select this model.
        summary: One line shown by ``search models``.
        fixed: Estimator arguments that are always passed and never tuned.
        seed_param: The estimator argument that takes the random seed, if any.
        skops_trusted_types: Types (beyond scikit-learn's defaults) that the
            fitted model contains and that MLflow's skops format must trust
            to load it again.
    """

    name: str
    estimator: str
    params: tuple[Param, ...]
    aliases: tuple[str, ...] = ()
    summary: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    seed_param: str | None = None
    skops_trusted_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name!r} declares a parameter twice: {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validated estimator parameters: the declared defaults overridden by ``given``."""
        given = dict(given or {})
        unknown = sorted(set(given) - {p.name for p in self.params})
        if unknown:
            known = ", ".join(p.name for p in self.params)
            raise ParamError(f"model {self.name!r} has no parameter {unknown[0]!r} (it has: {known})")
        return {p.name: p.validate(given.get(p.name, p.default)) for p in self.params}

    def suggest(self, trial: optuna.trial.BaseTrial, prefix: str = "") -> dict[str, Any]:
        """Draw one configuration from the search space (keys in the trial are ``prefix + name``)."""
        return {p.name: p.suggest(trial, prefix + p.name) for p in self.params}

    def from_trial(self, trial_params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """The estimator parameters a finished trial stands for."""
        return {p.name: p.from_trial(dict(trial_params), prefix + p.name) for p in self.params}

    def build(self, params: Mapping[str, Any], seed: int | None = None) -> Pipeline:
        """A fresh ``StandardScaler`` + estimator pipeline, as the original scripts used."""
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        module_name, _, class_name = self.estimator.partition(":")
        estimator_class = getattr(importlib.import_module(module_name), class_name)
        arguments = {**self.fixed, **params}
        if self.seed_param is not None and seed is not None:
            arguments[self.seed_param] = seed
        return Pipeline([("scale", StandardScaler()), ("model", estimator_class(**arguments))])
