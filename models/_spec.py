"""`ModelSpec`: everything the toolkit needs to know about one tunable model.

A spec is plain data, like a scikit-learn estimator's ``__init__``: the
estimator is named by its import path and only imported by `build`, when
something is actually fitted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models._params import Categorical, Param, ParamError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ModelSpec:
    """A model the toolkit can tune: its estimator, parameters and search space.

    Example::

        MODEL = ModelSpec(
            name="svc",
            estimator="sklearn.svm:SVC",
            params=(
                Categorical("kernel", default="rbf", choices=("linear", "rbf", "poly")),
                Float("gamma", default=0.1, search=(1e-4, 10.0), log=True, when={"kernel": ("rbf", "poly")}),
                Int("degree", default=3, search=(2, 5), when={"kernel": ("poly",)}),
            ),
        )

    Args:
        name: The name users type (``search run svc``).
        estimator: ``"module:Class"`` of a scikit-learn classifier.
        params: The tunable hyperparameters, each declared once; a parameter's
            ``when`` may only name a categorical parameter declared before it.
        aliases: Other names that select this model.
        summary: One line shown by ``search models``.
        fixed: Estimator arguments that are always passed and never tuned.
        seed_param: The estimator argument that takes the random seed, if any.
        skops_trusted_types: Types (beyond scikit-learn's defaults) that the
            fitted model contains and that MLflow's skops format must trust
            to load it again.
        fit_check: ``(params, n_rows) -> reason or None``: why these parameters
            cannot be fitted on ``n_rows`` rows (kNN's ``n_neighbors`` above
            them), which the estimator itself may not say consistently.
    """

    name: str
    estimator: str
    params: tuple[Param, ...]
    aliases: tuple[str, ...] = ()
    summary: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    seed_param: str | None = None
    skops_trusted_types: tuple[str, ...] = ()
    fit_check: Callable[[Mapping[str, Any], int], str | None] | None = None

    def __post_init__(self) -> None:
        seen: dict[str, Param] = {}
        for param in self.params:
            if param.name in seen:
                raise ValueError(f"model {self.name!r} declares parameter {param.name!r} twice")
            for other, allowed in param.when.items():
                switch = seen.get(other)
                if not isinstance(switch, Categorical):
                    raise ValueError(
                        f"model {self.name!r}: {param.name} depends on {other!r}, "
                        "which must be a categorical parameter declared before it"
                    )
                unknown = [value for value in allowed if value not in switch.choices]
                if unknown:
                    raise ValueError(
                        f"model {self.name!r}: {param.name} depends on {other}={unknown[0]!r}, not one of its choices"
                    )
            seen[param.name] = param

    def cannot_fit(self, params: Mapping[str, Any], n_rows: int) -> str | None:
        """Why ``params`` cannot be fitted on ``n_rows`` rows (None: they can)."""
        return self.fit_check(params, n_rows) if self.fit_check is not None else None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validated estimator parameters: the declared defaults overridden by ``given``.

        A conditional parameter is left out where it does not apply; giving it
        there is an error, so a value the user typed is never silently ignored.
        """
        given = dict(given or {})
        unknown = sorted(set(given) - {p.name for p in self.params})
        if unknown:
            known = ", ".join(p.name for p in self.params)
            raise ParamError(f"model {self.name!r} has no parameter {unknown[0]!r} (it has: {known})")
        resolved: dict[str, Any] = {}
        for param in self.params:
            if param.active(resolved):
                resolved[param.name] = param.validate(given.get(param.name, param.default))
            elif param.name in given:
                raise ParamError(f"{param.name} applies only when {param.condition()}")
        return resolved

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
