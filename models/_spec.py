"""`ModelSpec`: everything the toolkit needs to know about one tunable model.

A spec is plain data, like a scikit-learn estimator's ``__init__``: the
estimator is named by its import path and only imported by `build`, when
something is actually fitted.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models._params import Categorical, Param, ParamError
from models._preprocess import Columns, Needs, categorical_mask, preprocessor

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
            ``when`` may only name a categorical parameter declared before it,
            and its ``task`` limits it to one task's estimator.
        regressor: ``"module:Class"`` of the family's regressor (None: classification only).
        needs: What the model needs done to a table first (scaling, encoding, imputation).
        bounds: ``DataShape -> {param: (low, high)}``: search ranges that depend on
            the data (kNN's ``n_neighbors`` at most the rows a fold fits on); a
            declared range is narrowed to them, never widened.
        aliases: Other names that select this model.
        summary: One line shown by ``search models``.
        fixed: Estimator arguments that are always passed and never tuned.
        seed_param: The estimator argument that takes the random seed, if any.
        skops_trusted_types: Types (beyond scikit-learn's defaults) that the
            fitted model contains and that MLflow's skops format must trust
            to load it again.
        work_bound: How the family bounds one fit's work on any point of its space, in words
            (``search models`` shows it): solvers' ``max_iter``, early stopping, ranges narrowed by rows.
            Every trial also has a time limit (``--trial-timeout``) the toolkit enforces.
        starting_point: Parameters (over the declared defaults) of the configuration a
            new study tries first for this family: scikit-learn's own defaults, the
            model a data scientist would fit untuned, so a study starts from it.
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
    regressor: str | None = None
    needs: Needs = field(default_factory=Needs)
    bounds: Callable[[DataShape], Mapping[str, tuple[Any, Any]]] | None = None
    work_bound: str = ""
    starting_point: Mapping[str, Any] = field(default_factory=dict)
    #: The task this spec's `estimator` solves; `for_task` sets it.
    task: str = "classification"

    def __post_init__(self) -> None:
        seen: dict[str, Param] = {}
        for param in self.params:
            earlier = seen.get(param.name)
            if earlier is not None and (earlier.task is None or param.task in (None, earlier.task)):
                raise ValueError(f"model {self.name!r} declares parameter {param.name!r} twice for one task")
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

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this family has an estimator for."""
        return ("classification", "regression") if self.regressor else ("classification",)

    def for_task(self, task: str, shape: DataShape | None = None) -> ModelSpec:
        """This family as it is tuned for ``task``: its estimator, its parameters, ranges fitted to ``shape``."""
        if task not in self.tasks:
            raise ParamError(f"model {self.name!r} has no {task} estimator (it does {', '.join(self.tasks)})")
        estimator = self.estimator if task == "classification" else self.regressor
        params = tuple(param for param in self.params if param.task in (None, task))
        if shape is not None and self.bounds is not None:
            params = tuple(_narrow(param, self.bounds(shape).get(param.name)) for param in params)
        return dataclasses.replace(self, estimator=estimator, params=params, task=task)

    def narrowed(self, original: ModelSpec) -> list[str]:
        """What `for_task` narrowed to fit the data, in words ("n_neighbors 1..29 (declared 1..50)")."""
        declared = {param.name: param for param in original.params}
        return [f"{param.name} {param.describe()} (declared {declared[param.name].describe()})"
                for param in self.params if param.describe() != declared[param.name].describe()]

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

    def start(self) -> dict[str, Any]:
        """The configuration a new study tries first: `starting_point` over the defaults, inside the search ranges."""
        from optuna.distributions import CategoricalDistribution

        names = {param.name for param in self.params}
        params = self.resolve({k: v for k, v in self.starting_point.items() if k in names})
        for param in self.params:
            value = params.get(param.name)
            distribution = param.distribution() if value is not None else None
            if distribution is not None and not isinstance(distribution, CategoricalDistribution):
                params[param.name] = type(value)(min(max(value, distribution.low), distribution.high))
        return params

    def build(self, params: Mapping[str, Any], seed: int | None = None, columns: Columns | None = None) -> Pipeline:
        """A fresh pipeline: the preprocessing ``columns`` and `needs` call for, then the estimator.

        Without ``columns`` the features are all numeric and only scaled (if the model needs it),
        as the original scripts did.
        """
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        module_name, _, class_name = self.estimator.partition(":")
        estimator_class = getattr(importlib.import_module(module_name), class_name)
        arguments = {**self.fixed, **params}
        if self.seed_param is not None and seed is not None:
            arguments[self.seed_param] = seed
        if columns is None:
            prepare = StandardScaler() if self.needs.scale else "passthrough"
        else:
            prepare = preprocessor(columns, self.needs)
            if self.needs.categorical_param and columns.categorical:
                arguments[self.needs.categorical_param] = categorical_mask(columns)
        return Pipeline([("prepare", prepare), ("model", estimator_class(**arguments))])


@dataclass(frozen=True)
class DataShape:
    """What a search range may depend on: the rows the smallest training fold has, and the feature columns."""

    fold_rows: int
    features: int


def _narrow(param: Param, bound: tuple[Any, Any] | None) -> Param:
    """``param`` with its search range clipped to ``bound`` (and its default inside it)."""
    if bound is None or isinstance(param, Categorical):
        return param
    low, high = param.search
    low, high = max(low, bound[0]), min(high, bound[1])
    if low > high:
        low = high = min(max(bound[0], param.search[0]), bound[1])
    default = param.default if param.default is None else min(max(param.default, low), high)
    return dataclasses.replace(param, search=(low, high), default=default)
