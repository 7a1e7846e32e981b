"""The trials a tracking store did not take yet, kept for a retry instead of stalling the study."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from search.tracking._records import RunRecord

#: After an outage, how long to queue trials before trying the store again.
RETRY_AFTER_SECONDS = 30.0


class UnloggedQueue:
    """Records waiting for the store to come back, in trial order, with the study each belongs to."""

    def __init__(self, retry_after: float = RETRY_AFTER_SECONDS) -> None:
        self.retry_after = retry_after
        self._pending: dict[tuple[str, int], tuple[RunRecord, Any]] = {}
        self._last_outage = 0.0

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._pending

    def keep(self, record: RunRecord, study: Any) -> bool:
        """Queue ``record``; True when it is the first one since the store was last fine."""
        first = not self._pending
        self._pending[record.key] = (record, study)
        self._last_outage = time.monotonic()
        return first

    def due(self) -> bool:
        """Whether the store should be tried again now."""
        return bool(self._pending) and time.monotonic() - self._last_outage >= self.retry_after

    def take(self) -> list[tuple[RunRecord, Any]]:
        """Every queued record, oldest trial first; the queue is empty afterwards."""
        taken = sorted(self._pending.values(), key=lambda entry: entry[0].key)
        self._pending.clear()
        return taken

    def studies(self) -> dict[str, Any]:
        """The studies the queued records belong to, by name."""
        return {record.study_name: study for record, study in self._pending.values()}

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """The queued trials' keys (a copy: discarding while iterating is safe)."""
        return iter(list(self._pending))

    def discard(self, key: tuple[str, int]) -> None:
        self._pending.pop(key, None)

    def numbers(self, study_name: str | None = None) -> list[int]:
        """The queued trials' numbers (of one study, or all)."""
        return sorted(n for name, n in self._pending if study_name is None or name == study_name)
