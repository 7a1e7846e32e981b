"""What a study tries next: each family's starting point first, then the time shared by cost, none to laggards.

`FamilySampler` wraps the study's sampler, which still draws every model's own
parameters (as `optuna.samplers.PartialFixedSampler` leaves it to):

- **Starting points.** A trial is first each family's starting point that no
  trial has tried (`ModelSpec.start`: the untuned model a data scientist fits
  first), so no study ends behind it. Taken by the sampler, not queued as
  waiting trials, which two threads on one SQLite file could both take.
- **The model**, in a several-model study. Left to the sampler, it is drawn as
  often for a family whose trial takes seconds as for one whose trial takes
  milliseconds, and a family far behind keeps its share to the end. Instead:

1. a family no trial has tried yet goes first;
2. a family is *clearly behind* once it has had `MIN_TRIALS` finished trials
   and its best is worse than the leader's by more than `BEHIND_BY` standard
   errors of the leader's fold scores: it gets no more trials;
3. of the others, the one that has had the least of the study's time (its
   trials' durations, the running ones so far) goes next, the leader's time
   counting `LEADER_SHARE` times less, so it gets that many shares (on a
   tie, the family with fewer trials).

So a cheap family gets many trials in the time an expensive one gets few,
and the time goes to the families still in the race.
"""

from __future__ import annotations

import datetime
import math
import statistics
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from models._space import MODEL_DIMENSION
from search.tracking import METRICS_ATTRIBUTE_KEY

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

#: Trial system attribute: which of the sampler's starting points the trial tries (its index).
START_ATTRIBUTE_KEY = "search:start"
#: Finished trials (complete, pruned or failed) a family has before it can be judged behind.
MIN_TRIALS = 3
#: How many standard errors of the leader's mean fold score a family's best must trail by to be behind.
BEHIND_BY = 2.0
#: How many shares of the study's time the leading family gets (the others one each).
LEADER_SHARE = 2.0


@dataclass
class FamilyRecord:
    """What a study's trials say of one model family."""

    name: str
    seconds: float = 0.0
    tried: int = 0
    finished: int = 0
    best: float | None = None
    best_spread: float = 0.0  #: standard error of the best trial's mean fold score


def records(trials: Sequence[FrozenTrial], families: Sequence[str], *, minimise: bool,
            now: datetime.datetime | None = None) -> dict[str, FamilyRecord]:
    """Each family's time spent, trials and best value, from the study's trials."""
    now = now or datetime.datetime.now()
    kept = {name: FamilyRecord(name) for name in families}
    sign = -1.0 if minimise else 1.0
    for trial in trials:
        record = kept.get(trial.params.get(MODEL_DIMENSION))
        if record is None:
            continue
        record.tried += 1
        if trial.datetime_start is not None:
            record.seconds += ((trial.datetime_complete or now) - trial.datetime_start).total_seconds()
        if trial.state.is_finished():
            record.finished += 1
        better = record.best is None or (trial.value is not None and sign * trial.value > sign * record.best)
        if trial.state.name == "COMPLETE" and trial.value is not None and better:
            record.best = trial.value
            record.best_spread = _standard_error(trial)
    return kept


def _standard_error(trial: FrozenTrial) -> float:
    """The standard error of a trial's mean fold score (0 when its folds are not recorded)."""
    folds = [value for key, value in (trial.user_attrs.get(METRICS_ATTRIBUTE_KEY) or {}).items()
             if key.startswith("fold_") and isinstance(value, list)]
    scores = folds[0] if folds else []
    return statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0


def next_family(kept: dict[str, FamilyRecord], *, minimise: bool) -> str:
    """The family to try next (see the module's rules)."""
    untried = [record.name for record in kept.values() if record.tried == 0]
    if untried:
        return untried[0]
    sign = -1.0 if minimise else 1.0
    scored = [record for record in kept.values() if record.best is not None]
    leader = max(scored, key=lambda record: sign * record.best) if scored else None  # type: ignore[operator]
    racing = [record for record in kept.values() if leader is None or not behind(record, leader, sign)]
    share = {record.name: LEADER_SHARE if record is leader else 1.0 for record in racing}
    return min(racing, key=lambda record: (record.seconds / share[record.name], record.tried, record.name)).name


def behind(record: FamilyRecord, leader: FamilyRecord, sign: float) -> bool:
    """Whether ``record``'s family is clearly behind ``leader``'s (never the leader itself)."""
    if record is leader or record.finished < MIN_TRIALS:
        return False
    if record.best is None:  # every trial of it failed or was pruned
        return True
    assert leader.best is not None
    return sign * (leader.best - record.best) > BEHIND_BY * leader.best_spread


class FamilySampler(optuna.samplers.BaseSampler):
    """A sampler that tries the untried ``starts`` (trial params) first, then picks a several-model study's
    ``model`` by `next_family`; ``base`` draws the rest."""

    def __init__(self, base: optuna.samplers.BaseSampler, starts: Sequence[Mapping[str, Any]] = ()) -> None:
        self.base = base
        self.starts = [dict(start) for start in starts]
        self._fixed: dict[int, dict[str, Any]] = {}  # trial number -> the start it tries
        self._lock = threading.Lock()  # the threads of --n-jobs share this sampler

    def _untried_start(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any] | None:
        """The first start no trial has tried or taken (a running trial says so before it draws its params)."""
        others = [other for other in study.get_trials(deepcopy=False) if other.number != trial.number]
        taken = {other.system_attrs.get(START_ATTRIBUTE_KEY) for other in others}
        tried = [other.params for other in others] + list(self._fixed.values())
        return next((start for index, start in enumerate(self.starts)
                     if start not in tried and index not in taken), None)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)
        with self._lock:
            start = self._untried_start(study, trial) if self.starts else None
            if start is not None:
                self._fixed[trial.number] = start
                # Said at once, so the other workers take the next start (as TPE's constant liar shares its draws).
                study._storage.set_trial_system_attr(trial._trial_id, START_ATTRIBUTE_KEY, self.starts.index(start))

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if trial.number in self._fixed:
            return {}
        space = self.base.infer_relative_search_space(study, trial)
        return {name: distribution for name, distribution in space.items() if name != MODEL_DIMENSION}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if trial.number in self._fixed:  # a starting point: nothing drawn (TPE's group mode needs its own inference)
            return {}
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        fixed = self._fixed.get(trial.number, {})
        if param_name in fixed:
            return fixed[param_name]
        if param_name != MODEL_DIMENSION:
            return self.base.sample_independent(study, trial, param_name, param_distribution)
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        minimise = study.direction.name == "MINIMIZE"
        families = list(param_distribution.choices)  # type: ignore[attr-defined]  # the study's models
        return next_family(records(others, families, minimise=minimise), minimise=minimise)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: optuna.trial.TrialState,
                    values: Sequence[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)
        with self._lock:
            self._fixed.pop(trial.number, None)  # stored now: its params say it was tried

    def reseed_rng(self) -> None:
        self.base.reseed_rng()
