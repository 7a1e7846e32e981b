"""Following a study while it runs: every trial that finishes, whoever ran it, reported once, in order.

The study never prints: it tells a `Reporter` (``search.report`` has the one
the command line and the CML job use). A `ProgressWatcher` thread reads the
finished trials from the storage, so trials of other worker processes, other
threads and other commands on the same study are reported too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from search.trials import counts_toward_quota, worker_of

if TYPE_CHECKING:
    import optuna

    from search.study.outcome import StudyOutcome
    from search.study.plan import StudyPlan


class Reporter:
    """What a study tells its user. This base says nothing (library use, benchmarks)."""

    def start(self, plan: StudyPlan) -> None:
        """The study is about to run: its settings are checked and its stores ready."""

    def trial(
        self, trial: optuna.trial.FrozenTrial, best: optuna.trial.FrozenTrial | None, done: int | None,
        total: int | None,
    ) -> None:
        """``trial`` finished: the ``done``-th of this command's ``total`` (None: it does not count toward them).

        A trial counts when this command's workers ran it to an end (complete,
        pruned, or failed by its objective); another command's trial, or one
        interrupted or lost with its process, is reported without a count.
        """

    def note(self, text: str) -> None:
        """Something the user should know while the study runs (workers started, one failed)."""

    def finish(self, outcome: StudyOutcome) -> None:
        """The command is over (finished, interrupted or failed); everything it opened is ended."""


class ProgressWatcher:
    """Polls ``study`` for finished trials and reports each once, by trial number.

    Args:
        own: The workers of this command, as trials record them (its count only counts their trials).
        total: How many trials the command adds (None: until its timeout).
        on_trial: Called with each newly finished trial before it is reported (from the watcher's thread).
    """

    def __init__(
        self,
        study: optuna.study.Study,
        reporter: Reporter,
        own: Callable[[], Collection[str]],
        total: int | None,
        on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
        interval: float = 0.5,
    ) -> None:
        from optuna.trial import TrialState

        self._study = study
        self._reporter = reporter
        self._own = own
        self._total = total
        self._on_trial = on_trial
        self._interval = interval
        self._states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        finished = study.get_trials(deepcopy=False, states=self._states)
        self._seen = {trial.number for trial in finished}
        self._best = _best_of(study, finished, None)
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # what finished since the last look

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:  # the storage hiccuped: look again next time
                continue

    def poll(self) -> None:
        new = [t for t in self._study.get_trials(deepcopy=False, states=self._states) if t.number not in self._seen]
        own = self._own()
        for trial in sorted(new, key=lambda t: t.number):
            self._seen.add(trial.number)
            if self._on_trial is not None:
                self._on_trial(trial)
            self._best = _best_of(self._study, [trial], self._best)
            counts = worker_of(trial) in own and counts_toward_quota(trial)
            self.done += counts
            self._reporter.trial(trial, self._best, self.done if counts else None, self._total)


def _best_of(
    study: optuna.study.Study, trials: list[optuna.trial.FrozenTrial], best: optuna.trial.FrozenTrial | None
) -> optuna.trial.FrozenTrial | None:
    sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
    for trial in trials:
        complete = trial.state.name == "COMPLETE" and trial.value is not None
        if complete and (best is None or sign * trial.value > sign * best.value):
            best = trial
    return best
