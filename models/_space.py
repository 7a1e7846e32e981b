"""Search spaces with conditional dimensions, drawn through Optuna's own distributions.

A `Dimension` is one Optuna parameter that is searched only when its
conditions hold on the dimensions drawn before it. Three cases are one
mechanism:

- a conditional parameter (``when={"kernel": ("poly",)}``);
- a nullable one (``max_depth``: a switch ``max_depth_is_none``, then the value
  only when the switch is off);
- several models in one study (a ``model`` dimension; each model's parameters,
  named ``model__param``, only when ``model`` is that model).

Optuna's trial params hold these encoded names; `SearchSpace.decode` turns them
back into the model and the estimator's own parameters, which are what users see.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from models._spec import ModelSpec

#: The dimension choosing the model when a study tunes several.
MODEL_DIMENSION = "model"
#: Separates a model's name from its parameter's in a several-model study ("knn__n_neighbors").
PREFIX_SEPARATOR = "__"
#: Suffix of a nullable parameter's switch ("max_depth_is_none").
NONE_SWITCH_SUFFIX = "_is_none"

Condition = tuple[tuple[str, tuple[Any, ...]], ...]


@dataclass(frozen=True)
class Dimension:
    """One Optuna parameter, searched only when every ``(other, allowed values)`` condition holds."""

    name: str
    distribution: Callable[[], optuna.distributions.BaseDistribution]
    when: Condition = ()

    def active(self, drawn: Mapping[str, Any]) -> bool:
        return all(other in drawn and drawn[other] in allowed for other, allowed in self.when)


def suggest(trial: optuna.trial.BaseTrial, name: str, distribution: optuna.distributions.BaseDistribution) -> Any:
    """Draw ``name`` from ``distribution`` through the trial's public ``suggest_*`` methods."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, list(distribution.choices))
    suggest_number = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    return suggest_number(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def _switch() -> optuna.distributions.CategoricalDistribution:
    from optuna.distributions import CategoricalDistribution

    return CategoricalDistribution([False, True])


class SearchSpace:
    """The space of one study: one model, or several with the model as a parameter.

    Example::

        space = SearchSpace([KNN, RANDOM_FOREST])
        spec, params = space.sample(trial)        # inside an Optuna objective
        spec, params = space.decode(trial.params)  # from a finished trial
    """

    def __init__(self, specs: Sequence[ModelSpec]) -> None:
        #: Sorted by name: the study does not depend on the order models were typed in.
        self.specs = sorted({spec.name: spec for spec in specs}.values(), key=lambda spec: spec.name)
        if not self.specs:
            raise ValueError("a search space needs at least one model")
        self._by_name = {spec.name: spec for spec in self.specs}
        self.dimensions: list[Dimension] = []
        if len(self.specs) == 1:
            self.dimensions += model_dimensions(self.specs[0])
        else:
            names = [spec.name for spec in self.specs]
            self.dimensions.append(Dimension(MODEL_DIMENSION, functools.partial(_categorical, names)))
            for spec in self.specs:
                chosen: Condition = ((MODEL_DIMENSION, (spec.name,)),)
                self.dimensions += model_dimensions(spec, self.prefix(spec), chosen)

    def prefix(self, spec: ModelSpec) -> str:
        return "" if len(self.specs) == 1 else spec.name + PREFIX_SEPARATOR

    def sample(self, trial: optuna.trial.BaseTrial) -> tuple[ModelSpec, dict[str, Any]]:
        """Draw one configuration: the model and its estimator parameters."""
        drawn: dict[str, Any] = {}
        for dimension in self.dimensions:
            if dimension.active(drawn):
                drawn[dimension.name] = suggest(trial, dimension.name, dimension.distribution())
        return self.decode(drawn)

    def decode(self, trial_params: Mapping[str, Any]) -> tuple[ModelSpec, dict[str, Any]]:
        """The model and estimator parameters a trial's (encoded) params stand for."""
        spec = self.specs[0] if len(self.specs) == 1 else self._by_name[trial_params[MODEL_DIMENSION]]
        return spec, decode_params(spec, trial_params, self.prefix(spec))

    def encode(self, spec: ModelSpec, params: Mapping[str, Any]) -> dict[str, Any]:
        """The trial params that stand for ``spec`` with ``params`` (`decode`'s inverse): what to enqueue."""
        prefix = self.prefix(spec)
        encoded: dict[str, Any] = {MODEL_DIMENSION: spec.name} if len(self.specs) > 1 else {}
        for dimension in self.dimensions:
            if dimension.name == MODEL_DIMENSION or not dimension.name.startswith(prefix):
                continue
            if not dimension.active(encoded):
                continue
            name = dimension.name[len(prefix):]
            switched = name.removesuffix(NONE_SWITCH_SUFFIX)
            if name != switched and switched in params:
                encoded[dimension.name] = params[switched] is None
            elif params.get(name) is not None:
                encoded[dimension.name] = params[name]
        return encoded

    def shown(self, trial_params: Mapping[str, Any]) -> dict[str, Any]:
        """What users see of a trial's params: the model (when a study has several), then its estimator params.

        A trial that stopped before drawing its model shows its params as they are.
        """
        try:
            spec, params = self.decode(trial_params)
        except KeyError:
            return dict(trial_params)
        return {MODEL_DIMENSION: spec.name, **params} if len(self.specs) > 1 else params


def _categorical(choices: list[Any]) -> optuna.distributions.CategoricalDistribution:
    from optuna.distributions import CategoricalDistribution

    return CategoricalDistribution(choices)


def model_dimensions(spec: ModelSpec, prefix: str = "", when: Condition = ()) -> list[Dimension]:
    """The Optuna dimensions of one model's parameters, names prefixed, under ``when``."""
    dimensions = []
    for param in spec.params:
        key = prefix + param.name
        condition = when + tuple((prefix + other, tuple(allowed)) for other, allowed in param.when.items())
        if getattr(param, "nullable", False):
            switch = Dimension(key + NONE_SWITCH_SUFFIX, _switch, condition)
            dimensions.append(switch)
            condition += ((switch.name, (False,)),)
        dimensions.append(Dimension(key, param.distribution, condition))
    return dimensions


def decode_params(spec: ModelSpec, trial_params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The estimator parameters of ``spec`` in a trial's params; inactive ones are left out."""
    params: dict[str, Any] = {}
    for param in spec.params:
        key = prefix + param.name
        if trial_params.get(key + NONE_SWITCH_SUFFIX) is True:
            params[param.name] = None
        elif key in trial_params:
            params[param.name] = trial_params[key]
    return params
