"""The hyperparameter vocabulary model declarations are written in.

Each parameter is declared once and that declaration answers every question the
toolkit asks about it: what Optuna may search (`suggest`), what a user may type
on the command line (`parse`), and what a valid value is (`validate`). The
module is plain Python on purpose: importing a declaration must not import
scikit-learn or Optuna, so `search run knn --help` stays instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

NONE_WORDS = ("none", "null", "unlimited")


class ParamError(ValueError):
    """A value a parameter does not allow; the message names the parameter."""


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class _Numeric:
    name: str
    default: Any
    search: tuple[Any, Any]
    help: str = ""
    minimum: Any = None
    maximum: Any = None
    log: bool = False
    #: ``None`` is a valid value (e.g. ``max_depth``) and a searched choice.
    nullable: bool = False
    #: What ``None`` means, for help texts ("unlimited").
    none_means: str = "none"

    _kind = "a number"

    def __post_init__(self) -> None:
        low, high = self.search
        if not low <= high:
            raise ValueError(f"{self.name}: search range {self.search} is empty")
        for bound in (low, high):
            self.validate(bound)
        if self.default is not None or not self.nullable:
            self.validate(self.default)

    @property
    def option(self) -> str:
        return _option(self.name)

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
            text = f"{self._kind}"
        return text + (f" or 'none' ({self.none_means})" if self.nullable else "")

    def space(self) -> str:
        low, high = self.search
        text = f"{low}..{high}" + (" log" if self.log else "")
        return text + (" | none" if self.nullable else "")

    def validate(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        try:
            number = self._cast(value)
        except (TypeError, ValueError):
            raise ParamError(f"{self.name} must be {self.allowed()}, got {value!r}") from None
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise ParamError(f"{self.name} must be {self.allowed()}, got {value!r}")
        return number

    def parse(self, text: str) -> Any:
        if self.nullable and text.strip().lower() in NONE_WORDS:
            return None
        return self.validate(text)

    def suggest(self, trial: optuna.trial.BaseTrial, key: str) -> Any:
        if self.nullable and trial.suggest_categorical(f"{key}_is_none", [False, True]):
            return None
        low, high = self.search
        return self._suggest(trial, key, low, high)

    def _suggest(self, trial: optuna.trial.BaseTrial, key: str, low: Any, high: Any) -> Any:
        raise NotImplementedError

    def from_trial(self, params: dict[str, Any], key: str) -> Any:
        """The estimator value from a trial's params (undoing ``suggest``'s encoding)."""
        if self.nullable and params.get(f"{key}_is_none"):
            return None
        return params[key]


@dataclass(frozen=True)
class Int(_Numeric):
    """An integer hyperparameter, searched over ``search`` (inclusive)."""

    _kind = "an integer"

    def _cast(self, value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, str):
            return int(value.strip())
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)

    def _suggest(self, trial: optuna.trial.BaseTrial, key: str, low: int, high: int) -> int:
        return trial.suggest_int(key, low, high, log=self.log)


@dataclass(frozen=True)
class Float(_Numeric):
    """A real-valued hyperparameter, searched over ``search`` (inclusive)."""

    _kind = "a real number"

    def _cast(self, value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if number != number:  # NaN
            raise ValueError(value)
        return number

    def _suggest(self, trial: optuna.trial.BaseTrial, key: str, low: float, high: float) -> float:
        return trial.suggest_float(key, low, high, log=self.log)


@dataclass(frozen=True)
class Categorical:
    """A hyperparameter taking one of a few values (``None`` allowed as a value)."""

    name: str
    default: Any
    choices: Sequence[Any]
    help: str = ""

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not a choice")

    @property
    def option(self) -> str:
        return _option(self.name)

    def _labels(self) -> list[str]:
        return ["none" if c is None else str(c) for c in self.choices]

    def allowed(self) -> str:
        return "one of " + ", ".join(self._labels())

    def space(self) -> str:
        return " | ".join(self._labels())

    def validate(self, value: Any) -> Any:
        for choice in self.choices:
            if value is choice or (value == choice and type(value) is type(choice)):
                return choice
        if isinstance(value, str):
            return self.parse(value)
        raise ParamError(f"{self.name} must be {self.allowed()}, got {value!r}")

    def parse(self, text: str) -> Any:
        wanted = text.strip().lower()
        for label, choice in zip(self._labels(), self.choices):
            if label.lower() == wanted:
                return choice
        raise ParamError(f"{self.name} must be {self.allowed()}, got {text!r}")

    def suggest(self, trial: optuna.trial.BaseTrial, key: str) -> Any:
        return trial.suggest_categorical(key, list(self.choices))

    def from_trial(self, params: dict[str, Any], key: str) -> Any:
        return params[key]


Param = Int | Float | Categorical
