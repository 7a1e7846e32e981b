"""How a study's trials get run: the one interface `run_study` hands them to.

Two drivers implement it: `search.study.local.LocalWorkers` (this process and
worker processes it starts, sharing one quota) and
`search.study.remote.RemoteDriver` (workers a platform such as CML starts on
other hosts, whose trials this process logs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from search.study.outcome import StudyOutcome
    from search.study.plan import StudyPlan
    from search.study.progress import Reporter
    from search.tracking import MLflowCallback


@dataclass
class Ran:
    """What a driver's run of the trials came to, besides what it put on the outcome."""

    #: The workers that ran this command's trials, as trials record them (``host:pid`` or an assigned id).
    own: set[str] = field(default_factory=set)
    #: An unexpected error that stopped the trials; raised once everything opened is ended.
    failure: BaseException | None = None


class Driver(Protocol):
    """Runs the trials of one study command."""

    def check(self, plan: StudyPlan) -> None:
        """Refuse, in one line, what these workers cannot do; called before anything is created."""

    def run(self, outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter) -> Ran:
        """Run the command's trials, each logged with ``callback`` and reported to ``reporter``.

        Sets ``outcome.added``, ``interrupted``, ``worker_errors`` and
        ``timings["trials"]``, and adds to ``outcome.recovered`` the trials it
        failed and queued again because their worker died.
        """
