"""Bringing a study's MLflow runs in line with its trials, idempotently.

Every finished trial should have exactly one child run under the study's
parent run, with the trial's status, params and metrics. A crash, a kill or a
tracking outage can leave a trial without a run, a run RUNNING, or (a write
retried after a lost answer) two runs for one trial. `reconcile` finds and
mends each case and says what it did; run again, it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search.common.lines import count, numbers_text
from search.common.mlflow_client import PARENT_TAG, quote
from search.tracking._records import RunRecord
from search.tracking._writer import RunWriter

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from mlflow.entities import Run

_TERMINAL = ("FINISHED", "FAILED", "KILLED")


@dataclass
class SyncReport:
    """What `reconcile` changed, by trial number."""

    created: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    left_to_their_process: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.completed or self.duplicates)

    def describe(self) -> str:
        """One line: what was mended, or that nothing needed it."""
        parts = []
        if self.created:
            parts.append(f"logged {count(self.created, 'trial')} that had no run ({numbers_text(self.created)})")
        if self.completed:
            parts.append(f"completed {count(self.completed, 'run')} left unfinished ({numbers_text(self.completed)})")
        if self.duplicates:
            parts.append(f"removed {count(self.duplicates, 'duplicate run')} (trials {numbers_text(self.duplicates)})")
        return "; ".join(parts) if parts else "every finished trial has exactly one complete run"


def child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str) -> dict[int, list[Run]]:
    """The runs under ``parent_run_id``, by the trial number they are tagged with."""
    by_number: dict[int, list[Run]] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = {quote(parent_run_id)}",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            number = run.data.tags.get("number", "")
            if number.isdigit():
                by_number.setdefault(int(number), []).append(run)
        token = page.token
        if not token:
            return by_number


def reconcile(
    writer: RunWriter,
    study: optuna.study.Study,
    experiment_id: str,
    parent_run_id: str,
    record: Callable[[optuna.trial.FrozenTrial], RunRecord],
    repair: Callable[[optuna.trial.FrozenTrial], bool] = lambda trial: True,
) -> SyncReport:
    """Give every finished trial of ``study`` exactly one complete child run of ``parent_run_id``.

    Args:
        writer: Writes the runs.
        study: The study whose trials are the truth.
        experiment_id: Where its runs are.
        parent_run_id: The study's parent run.
        record: The run a trial should have.
        repair: Whether a trial without a run may be logged now; a process
            still running might be about to log it itself.
    """
    report = SyncReport()
    # The trials first, then their runs: a trial that finishes meanwhile is left to its process (read the other
    # way round, one finished and logged between the two reads looked unlogged, and got a second run).
    trials = [trial for trial in study.get_trials(deepcopy=False) if trial.state.is_finished()]
    runs = child_runs(writer.client, experiment_id, parent_run_id)
    missing = []
    for trial in trials:
        found = sorted(runs.get(trial.number, []), key=_keep_first)
        if len(found) > 1:
            for extra in found[1:]:
                writer.client.delete_run(extra.info.run_id)
            report.duplicates.append(trial.number)
        if not found:
            if repair(trial):
                missing.append(trial)
            else:
                report.left_to_their_process.append(trial.number)
            continue
        wanted = record(trial)
        if not _matches(found[0], wanted):
            wanted.run_id = found[0].info.run_id
            # A param once logged cannot change: log only the missing ones.
            wanted.params = {k: v for k, v in wanted.params.items() if k not in found[0].data.params}
            writer.write(wanted, experiment_id, parent_run_id)
            report.completed.append(trial.number)
    if missing:  # their processes are done (or ours): read again, so a run one wrote just before it ended is seen
        runs = child_runs(writer.client, experiment_id, parent_run_id)
        for trial in missing:
            if trial.number in runs:
                continue
            wanted = record(trial)
            wanted.run_id = None
            writer.write(wanted, experiment_id, parent_run_id)
            report.created.append(trial.number)
    return report


def _keep_first(run: Run) -> tuple[bool, int, str]:
    """The run to keep among several for one trial: an ended one, then the oldest."""
    return (run.info.status not in _TERMINAL, run.info.start_time or 0, run.info.run_id)


def _matches(run: Run, wanted: RunRecord) -> bool:
    return run.info.status == wanted.status and set(wanted.metrics) <= set(run.data.metrics)
