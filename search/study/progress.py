"""Following a study while it runs: every trial that finishes, whoever ran it, reported once, in order.

The study never prints: it tells a `Reporter` (``search.report`` has the one
the command line and the CML job use). A `ProgressWatcher` thread reads the
finished trials from the storage, so trials of other worker processes, other
threads and other commands on the same study are reported too.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from search.study.runner import StudyOutcome, StudyPlan
    from search.study.workers import Quota


class Reporter:
    """What a study tells its user. This base says nothing (library use, benchmarks)."""

    def start(self, plan: StudyPlan) -> None:
        """The study is about to run: its settings are checked and its stores ready."""

    def trial(
        self, trial: optuna.trial.FrozenTrial, best: optuna.trial.FrozenTrial | None, done: int, total: int | None
    ) -> None:
        """``trial`` finished; ``done`` of this command's ``total`` trials have."""

    def finish(self, outcome: StudyOutcome) -> None:
        """The command is over (finished, interrupted or failed); everything it opened is ended."""


class ProgressWatcher:
    """Polls ``study`` for finished trials and reports each once, by trial number."""

    def __init__(
        self, study: optuna.study.Study, reporter: Reporter, quota: Quota, interval: float = 0.5
    ) -> None:
        from optuna.trial import TrialState

        self._study = study
        self._reporter = reporter
        self._quota = quota
        self._interval = interval
        self._states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        finished = study.get_trials(deepcopy=False, states=self._states)
        self._seen = {trial.number for trial in finished}
        self._best = _best_of(study, finished, None)
        self._reported = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
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
        for trial in sorted(new, key=lambda t: t.number):
            self._seen.add(trial.number)
            self._reported += 1
            self._best = _best_of(self._study, [trial], self._best)
            # This command's count, as far as this line goes (the poll may see several trials at once).
            done = min(self._reported, self._quota.finished)
            self._reporter.trial(trial, self._best, done, self._quota.total)


def _best_of(
    study: optuna.study.Study, trials: list[optuna.trial.FrozenTrial], best: optuna.trial.FrozenTrial | None
) -> optuna.trial.FrozenTrial | None:
    sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
    for trial in trials:
        complete = trial.state.name == "COMPLETE" and trial.value is not None
        if complete and (best is None or sign * trial.value > sign * best.value):
            best = trial
    return best
