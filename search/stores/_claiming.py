"""Journal storages whose trials name the process running them from the moment they exist.

The RDB storages find a trial whose process died by its heartbeat; the
journal storages (a ``.journal`` file, Redis) have none, so a trial records
its process (`search.study.orphans`). Recorded by the objective, that left a
window: a process killed between Optuna creating the trial and the objective
starting left a RUNNING trial naming nobody, which no repair could fail. Here
the trial is created already carrying it (one journal write), and a queued
trial is claimed in the write right after the one that takes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import FrozenTrial, TrialState


class ClaimingJournalStorage(JournalStorage):
    """A `JournalStorage` whose new (and newly taken) trials get ``claim()`` as user attributes."""

    def __init__(self, backend: BaseJournalBackend, claim: Callable[[], Mapping[str, Any]]) -> None:
        super().__init__(backend)
        self._claim = claim

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:  # Study.ask's new trial: RUNNING, as Optuna would make it, plus the claim
            template_trial = FrozenTrial(
                number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                datetime_complete=None, params={}, distributions={}, user_attrs=dict(self._claim()),
                system_attrs={}, intermediate_values={}, trial_id=-1,
            )
        return super().create_new_trial(study_id, template_trial)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        taken = super().set_trial_state_values(trial_id, state, values)
        if taken and state == TrialState.RUNNING:  # a queued trial, just taken by this process
            for key, value in self._claim().items():
                self.set_trial_user_attr(trial_id, key, value)
        return taken
