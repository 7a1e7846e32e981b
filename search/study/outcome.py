"""What a study command did: the trials it added, what it logged and delivered, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

    from search.deliverable.best_model import Delivered
    from search.study.plan import StudyPlan
    from search.tracking import SyncReport


@dataclass
class StudyOutcome:
    """What a finished (or interrupted) study command did, for the summary and the parent run's status."""

    plan: StudyPlan
    study: optuna.study.Study
    experiment_id: str
    study_run_id: str
    #: Tags every run of this command carries (provenance, the data's digest), worker processes' runs too.
    run_tags: dict[str, str] = field(default_factory=dict)
    added: int = 0
    unlogged: list[int] = field(default_factory=list)
    repaired: SyncReport | None = None
    delivered: Delivered | None = None
    delivery_error: str | None = None
    #: Why the write-up stopped short when the command was interrupted during it ("" if it was not).
    interrupted_in: str = ""
    recovered: list[int] = field(default_factory=list)
    interrupted: bool = False
    worker_errors: list[str] = field(default_factory=list)
    #: Why the command failed (an unexpected error, or every trial it ran failed), if it did.
    failure: str | None = None
    #: Seconds each phase took: ``prepare`` (inputs, stores, parent run), ``trials``, ``tracking`` (writing
    #: and repairing runs), ``deliver`` (figures, best model, registration).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """How the command ended, as its parent run's status: interrupted, failed, or delivered what it was asked."""
        if self.interrupted:
            return "KILLED"
        if self.failure is not None or self.delivery_error is not None:
            return "FAILED"
        return "FINISHED"
