"""Getting run records into the store through outages: written now, by a writer process, or once it is back.

The state machine behind `MLflowCallback`. A record is written at once (or
handed to the background writer). When the store fails with an *outage* (a
connection error, a timeout, a 5xx answer) the record is queued, and so is
every record after it, without touching the store: the study must not stall
on it. After `RETRY_AFTER_SECONDS` one queued record probes the store; once the
store takes it, the rest follow. A *refusal* (a 4xx answer) is a bug or bad
input and is reported at once for that record alone.

A record handed to the writer process whose answer did not come back in time
is *unconfirmed*: it may still be written, so it is never sent again (that
would log the trial twice); it is reported unlogged until the writer's answer
arrives, and a reconciliation after the writer has stopped mends it either way.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from search.common.lines import one_line
from search.tracking._background import BackgroundWriter
from search.tracking._records import RunRecord
from search.tracking._writer import Key, Outcome, RunUpdate, RunWriter, WriteError, as_write_error

if TYPE_CHECKING:
    import optuna

#: After an outage, how long to queue records before trying the store again.
RETRY_AFTER_SECONDS = 30.0
#: Study user attribute listing the trials not logged yet, for anyone reading the study (a repair logs every
#: finished trial without a run, listed or not).
UNLOGGED_ATTRIBUTE_KEY = "mlflow_unlogged_trials"
#: Where a study's runs go: its experiment id and the parent run id (None: not nested).
Destination = Callable[["optuna.study.Study"], tuple[str, str | None]]


class UnloggedTrialsWarning(RuntimeWarning):
    """Some trials could not be written to MLflow yet; they are kept for a retry."""


class Delivery:
    """Writes run records for a callback, keeping what the store does not take. Callers hold one lock.

    Args:
        tracking_uri: The store (resolved when first needed: MLflow's own default may change until then).
        destination: Where a study's runs go; may raise while the store is down (an outage too).
        background: Write from a writer process (started at once), so logging does not slow the study.
    """

    def __init__(self, tracking_uri: Callable[[], str], destination: Destination, *, background: bool) -> None:
        self._tracking_uri = tracking_uri
        self._destination = destination
        self._foreground: RunWriter | None = None
        self._background: BackgroundWriter | None = None
        if background:
            self._background = BackgroundWriter(tracking_uri())
        self._run_ids: dict[Key, str] = {}
        self._in_flight: dict[Key, tuple[RunRecord, optuna.study.Study]] = {}
        self._unconfirmed: dict[Key, optuna.study.Study] = {}
        self._queue: dict[Key, tuple[RunRecord, optuna.study.Study]] = {}
        self._last_outage = 0.0
        self._probe: Key | None = None
        self.retry_after = RETRY_AFTER_SECONDS

    @property
    def writer(self) -> RunWriter:
        """The writer in this process (also for reading the store)."""
        if self._foreground is None:
            self._foreground = RunWriter(self._tracking_uri())
        return self._foreground

    # -- what callers do ---------------------------------------------------------------------------

    def send(self, record: RunRecord, study: optuna.study.Study) -> bool:
        """Write ``record`` (or queue it); False if the store did not take it (yet)."""
        self._settle_background()
        if self._queue and time.monotonic() - self._last_outage >= self.retry_after:
            self._retry()
        if self._queue:  # the store failed moments ago: queue instead of stalling the study on it
            self._keep(record, study, failed=False)
            return False
        return self._attempt(record, study)

    def update(self, update: RunUpdate) -> None:
        """Apply an update to an existing run (a parent's best-so-far); a failure is only warned about."""
        try:
            if self._background is not None and self._background.ready:
                self._background.update(update)
            else:
                self.writer.update(update)
        except Exception as error:
            warnings.warn(f"could not update run {update.run_id}: {one_line(error)}", UnloggedTrialsWarning,
                          stacklevel=3)

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for what is in flight, and try the queued records once more."""
        deadline = time.monotonic() + timeout
        self._drain(deadline)
        if self._queue:
            self._retry()
            self._drain(deadline)

    def unlogged(self, study_name: str | None = None) -> list[int]:
        """Numbers of the trials not known to be written (of one study, or all)."""
        keys = [*self._queue, *self._unconfirmed]
        return sorted({n for name, n in keys if study_name is None or name == study_name})

    def studies(self) -> dict[str, optuna.study.Study]:
        """The studies of the records not known to be written, by name."""
        found = {record.study_name: study for record, study in self._queue.values()}
        found.update({name: study for (name, _), study in self._unconfirmed.items()})
        return found

    def record_unlogged(self, studies: Iterable[optuna.study.Study]) -> None:
        """Keep the unlogged trials' numbers with each study (``mlflow_unlogged_trials``), for whoever reads it."""
        by_name = {study.study_name: study for study in studies}
        by_name.update(self.studies())
        for name, study in by_name.items():
            numbers = self.unlogged(name)
            try:
                if numbers or study.user_attrs.get(UNLOGGED_ATTRIBUTE_KEY):
                    study.set_user_attr(UNLOGGED_ATTRIBUTE_KEY, numbers)
            except Exception as error:  # the Optuna storage is down too: the warning still says which
                warnings.warn(f"could not record the unlogged trials: {one_line(error)}", UnloggedTrialsWarning,
                              stacklevel=3)

    def forget(self, study_name: str, *, keep: set[int]) -> None:
        """Drop the study's unlogged records but ``keep`` (a reconciliation has written the rest)."""
        for key in [*self._queue, *self._unconfirmed]:
            if key[0] == study_name and key[1] not in keep:
                self._queue.pop(key, None)
                self._unconfirmed.pop(key, None)

    def stop_background(self, timeout: float) -> None:
        """Stop the writer process (it writes what it holds, or is stopped after ``timeout`` s); write here after."""
        if self._background is None:
            return
        background, self._background = self._background, None
        self._settle(background.close(timeout))
        for key, (_record, study) in self._in_flight.items():  # the writer stopped without answering for them
            self._unconfirmed[key] = study
        self._in_flight.clear()
        self._probe = None

    # -- the state machine ------------------------------------------------------------------------

    def _keep(self, record: RunRecord, study: optuna.study.Study, *, failed: bool = True) -> bool:
        """Queue ``record``; True when it is the first one since the store was last fine.

        ``failed``: the store just failed it (else it is queued behind earlier ones, untried): only a failure
        restarts the wait before the next probe, or trials arriving steadily would put it off for ever.
        """
        first = not self._queue
        self._queue[record.key] = (record, study)
        if failed:
            self._last_outage = time.monotonic()
        return first

    def _attempt(self, record: RunRecord, study: optuna.study.Study, *, probe: bool = False) -> bool:
        try:
            experiment_id, parent_run_id = self._destination(study)
            record.run_id = record.run_id or self._run_ids.get(record.key)
            if self._background is not None and self._background.ready:  # else: written here while it starts
                self._in_flight[record.key] = (record, study)
                self._background.write(record, experiment_id, parent_run_id, probe=probe)
                return True
            outcome: str | WriteError = self.writer.write(record, experiment_id, parent_run_id)
        except Exception as error:
            outcome = as_write_error(error)
        return self._settle_one(record, study, outcome)

    def _settle_one(self, record: RunRecord, study: optuna.study.Study, outcome: str | WriteError) -> bool:
        self._unconfirmed.pop(record.key, None)
        if isinstance(outcome, str):
            self._run_ids[record.key] = outcome
            return True
        if not outcome.outage:
            warnings.warn(f"MLflow refused trial {record.trial_number} of study {record.study_name!r}: {outcome}",
                          UnloggedTrialsWarning, stacklevel=4)
        elif self._keep(record, study):
            warnings.warn(
                f"MLflow tracking store unreachable ({outcome}); trial {record.trial_number} and any after it "
                f"are kept and retried every {self.retry_after:.0f} s.",
                UnloggedTrialsWarning,
                stacklevel=4,
            )
        return False

    def _settle(self, outcomes: list[Outcome]) -> None:
        for key, outcome in outcomes:
            entry = self._in_flight.pop(key, None) if key is not None else None
            if entry is None:
                if key is not None and key in self._unconfirmed and isinstance(outcome, str):
                    self._unconfirmed.pop(key)  # a late answer: written after all
                    self._run_ids[key] = outcome
                elif isinstance(outcome, WriteError):
                    warnings.warn(f"could not update a run: {outcome}", UnloggedTrialsWarning, stacklevel=3)
                continue
            written = self._settle_one(entry[0], entry[1], outcome)
            if key == self._probe:
                self._probe = None
                if written:  # the store is back: send everything it missed
                    for record, study in self._take():
                        self._attempt(record, study)

    def _settle_background(self) -> None:
        if self._background is None:
            return
        self._settle(self._background.outcomes())
        if not self._background.alive:
            self._take_over()

    def _take_over(self) -> None:
        """The writer process died: write from this process, and send again what it had not answered for."""
        background, self._background = self._background, None
        self._settle(background.close(0))
        why = f" ({background.death})" if background.death is not None else ""
        warnings.warn(f"the MLflow writer process stopped{why}; writing from this process instead",
                      UnloggedTrialsWarning, stacklevel=4)
        pending, self._in_flight = list(self._in_flight.values()), {}
        self._probe = None
        for record, study in pending:
            self._attempt(record, study)

    def _drain(self, deadline: float) -> None:
        """Wait (until ``deadline``) for the writer's answers, including to what they make us send."""
        while self._background is not None and self._in_flight:
            outcomes, complete = self._background.flush(max(0.0, deadline - time.monotonic()))
            self._settle(outcomes)
            if not complete and not self._background.alive:
                self._take_over()
            elif not complete:  # no answer in time: the writer may still write them, so never send them again
                for key, (_record, study) in self._in_flight.items():
                    self._unconfirmed[key] = study
                self._in_flight.clear()
                self._probe = None
                return

    def _take(self) -> list[tuple[RunRecord, optuna.study.Study]]:
        taken = sorted(self._queue.values(), key=lambda entry: entry[0].key)
        self._queue.clear()
        return taken

    def _retry(self) -> None:
        """Try the store again with the oldest queued record; once it takes that one, send the rest.

        One probe, not every queued record, so a store that still does not
        answer costs one request's timeout, not one per record. Never waits
        for the writer process: the study goes on meanwhile.
        """
        if not self._queue or self._probe is not None:
            return
        (record, study), *rest = self._take()
        for later, later_study in rest:
            self._queue[later.key] = (later, later_study)
        if self._background is not None:
            self._probe = record.key
            self._attempt(record, study, probe=True)
            return
        if not self._attempt(record, study):
            return
        rest = self._take()
        for index, (later, later_study) in enumerate(rest):
            if not self._attempt(later, later_study) and later.key in self._queue:
                for left, left_study in rest[index + 1 :]:  # down again: what is left stays queued
                    self._queue[left.key] = (left, left_study)
                return
