"""The hyperparameter vocabulary model declarations are written in.

A parameter is declared once, like scikit-learn's ``_parameter_constraints``,
and everything else is derived from that declaration: the Optuna distribution
it is searched over (`Param.distribution`, built lazily so ``--help`` never
imports Optuna), the text ``search models`` and ``--help`` show
(`Param.describe`), what a user may type (`Param.parse`) and what a valid value
is (`Param.validate`, one message naming the parameter and what is allowed).

``when={"kernel": ("poly",)}`` makes a parameter conditional: it is searched,
passed to the estimator and logged only when the named categorical parameter
takes one of those values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import optuna

#: What a user may type for ``None`` on the command line.
NONE_WORDS = ("none", "null")


class ParamError(ValueError):
    """A value a parameter does not allow; the message names the parameter."""


def _label(value: Any) -> str:
    return "none" if value is None else str(value)


@dataclass(frozen=True)
class _Param:
    name: str
    default: Any
    help: str = field(default="", kw_only=True)
    #: Active only when each named (categorical) parameter takes one of the given values.
    when: Mapping[str, Sequence[Any]] = field(default_factory=dict, kw_only=True)
    #: Declared for one task only ("classification" or "regression"), e.g. a split criterion.
    task: str | None = field(default=None, kw_only=True)

    @property
    def option(self) -> str:
        """The ``search run`` option, e.g. ``--n-neighbors``."""
        return "--" + self.name.replace("_", "-")

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether this parameter applies, given the values of the parameters it depends on."""
        return all(values.get(other) in allowed for other, allowed in self.when.items())

    def condition(self) -> str:
        """The ``when`` condition in words ("kernel is rbf or poly"), or ''."""
        return " and ".join(
            f"{other} is {' or '.join(_label(v) for v in allowed)}" for other, allowed in self.when.items()
        )

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution this parameter is searched over."""
        raise NotImplementedError

    def describe(self) -> str:
        """The search space in words, as ``search models`` shows it."""
        raise NotImplementedError

    def allowed(self) -> str:
        """The values a user may give, in words."""
        raise NotImplementedError

    def validate(self, value: Any) -> Any:
        """``value`` as the estimator takes it, or a `ParamError` naming the parameter."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """A value typed on the command line, validated."""
        return self.validate(text)

    def _refuse(self, value: Any) -> ParamError:
        return ParamError(f"{self.name} must be {self.allowed()}, got {value!r}")


@dataclass(frozen=True)
class _Numeric(_Param):
    search: tuple[Any, Any] = (0, 0)
    step: int | float | None = None
    log: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    #: ``None`` is a valid value (e.g. ``max_depth``) and a searched choice.
    nullable: bool = False
    #: What ``None`` means, for help texts ("unlimited").
    none_means: str = "none"

    _kind: ClassVar[str] = "a number"

    def __post_init__(self) -> None:
        low, high = self.search
        if not low <= high:
            raise ValueError(f"{self.name}: search range {self.search} is empty")
        if self.log and self.step not in (None, 1):
            raise ValueError(f"{self.name}: a log-scaled range cannot have a step")
        for bound in (low, high):
            self.validate(bound)
        self.validate(self.default)

    def _cast(self, value: Any) -> Any:
        raise NotImplementedError

    def allowed(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            text = f"{self._kind} in [{self.minimum}, {self.maximum}]"
        elif self.minimum is not None:
            text = f"{self._kind} >= {self.minimum}"
        elif self.maximum is not None:
            text = f"{self._kind} <= {self.maximum}"
        else:
            text = self._kind
        return text + (f" or 'none' ({self.none_means})" if self.nullable else "")

    def describe(self) -> str:
        low, high = self.search
        text = f"{low}..{high}"
        if self.step not in (None, 1):
            text += f" step {self.step}"
        if self.log:
            text += " log"
        return text + (" | none" if self.nullable else "")

    def validate(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        try:
            number = self._cast(value)
        except (TypeError, ValueError):
            raise self._refuse(value) from None
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise self._refuse(value)
        return number

    def parse(self, text: str) -> Any:
        if self.nullable and text.strip().lower() in (*NONE_WORDS, self.none_means.lower()):
            return None
        return self.validate(text)


@dataclass(frozen=True)
class Int(_Numeric):
    """An integer hyperparameter, searched over ``search`` (inclusive), optionally by ``step``."""

    _kind: ClassVar[str] = "an integer"

    def _cast(self, value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, str):
            return int(value.strip())
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)

    def distribution(self) -> optuna.distributions.IntDistribution:
        from optuna.distributions import IntDistribution

        low, high = self.search
        return IntDistribution(low, high, log=self.log, step=self.step or 1)


@dataclass(frozen=True)
class Float(_Numeric):
    """A real-valued hyperparameter, searched over ``search`` (inclusive)."""

    _kind: ClassVar[str] = "a real number"

    def _cast(self, value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if number != number:  # NaN
            raise ValueError(value)
        return number

    def distribution(self) -> optuna.distributions.FloatDistribution:
        from optuna.distributions import FloatDistribution

        low, high = self.search
        return FloatDistribution(float(low), float(high), log=self.log, step=self.step)


@dataclass(frozen=True)
class Categorical(_Param):
    """A hyperparameter taking one of a few values (``None`` may be one of them)."""

    choices: Sequence[Any] = ()

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not a choice")

    def labels(self) -> list[str]:
        return [_label(c) for c in self.choices]

    def allowed(self) -> str:
        return "one of " + ", ".join(self.labels())

    def describe(self) -> str:
        return " | ".join(self.labels())

    def distribution(self) -> optuna.distributions.CategoricalDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(self.choices))

    def validate(self, value: Any) -> Any:
        for choice in self.choices:
            if value is choice or (value == choice and type(value) is type(choice)):
                return choice
        if isinstance(value, str):
            return self.parse(value)
        raise self._refuse(value)

    def parse(self, text: str) -> Any:
        wanted = text.strip().lower()
        for label, choice in zip(self.labels(), self.choices, strict=False):
            if label.lower() == wanted:
                return choice
        raise self._refuse(text)


Param = Int | Float | Categorical
