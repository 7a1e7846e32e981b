"""Optuna samplers and pruners by the names ``--sampler`` and ``--pruner`` take."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from search.defaults import Pruner, Sampler
from search.errors import InputError

if TYPE_CHECKING:
    import optuna


def make_sampler(name: Sampler | str, seed: int | None,
                 starts: Sequence[Mapping[str, Any]] = ()) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` stands for, seeded. All but ``random`` (a baseline, as it comes) first try the
    ``starts`` (trial params) no trial has tried yet, and in a several-model study leave the choice of model
    to `search.study.families` (by time and promise); they draw the model's parameters."""
    base = _sampler(name, seed)
    if Sampler(name) is Sampler.random:
        return base
    from search.study.families import FamilySampler

    return FamilySampler(base, starts)


def _sampler(name: Sampler | str, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    name = Sampler(name)
    with warnings.catch_warnings():  # multivariate, group and QMC are "experimental" but long stable
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name is Sampler.tpe:
            # multivariate+group model the conditional space (model → its own params) jointly.
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
        if name is Sampler.random:
            return optuna.samplers.RandomSampler(seed=seed)
        if name is Sampler.cmaes:
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name is Sampler.qmc:
            return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("the gp sampler needs PyTorch: pip install torch") from None
    return optuna.samplers.GPSampler(seed=seed)


def make_pruner(name: Pruner | str, cv: int) -> optuna.pruners.BasePruner:
    """The pruner ``name`` stands for; a trial's steps are its ``cv`` folds."""
    import optuna

    name = Pruner(name)
    if name is Pruner.median:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name is Pruner.hyperband:
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=cv)
    return optuna.pruners.NopPruner()
