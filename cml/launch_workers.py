"""The study job's CML workers: each runs ``cml/study_worker.py`` on its share of one study's trials.

`CmlWorkers` is what the remote driver (`search.study.remote.RemoteDriver`)
needs of workers on other hosts (`search.study.remote.RemoteWorkers`), with
CML's workers API:

- ``launch_workers(n=1, cpu, memory, code, env)`` once per worker, so each gets
  its own ``SEARCH_WORKER_ID`` (the id its trials record) and its own command
  line: model, share of the trials, the study's seed and its slot;
- ``await_workers(…, wait_for_completion=True, timeout_seconds=0)`` in a thread,
  so the job still answers Ctrl-C and a cancel while it waits;
- ``stop_workers(*ids)`` when the job is stopped.

``cml.workers_v1`` exists only inside CML. It is imported when the job checks
its settings, so anywhere else SEARCH_WORKERS above 1 is refused before
anything is created.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import project
from search.study.workers import WORKER_ID_VARIABLE, WorkerError
from search.text import one_line

if TYPE_CHECKING:
    from search.study.plan import StudyPlan
    from search.study.remote import Assignment

WORKER_SCRIPT = "cml/study_worker.py"


class CmlWorkers:
    """``count`` CML workers of ``cpu`` cores and ``memory`` GiB each, running studies of the project at ``root``."""

    kind = "CML worker"

    def __init__(self, count: int, cpu: float, memory: float, root: Path) -> None:
        self.count = count
        self._cpu, self._memory, self._root = cpu, memory, root
        self._api: ModuleType | None = None
        self._launched: dict[str, dict] = {}  # the worker id its trials record -> CML's description of it
        self._result: dict | None = None
        self._error: BaseException | None = None
        self._waiter: threading.Thread | None = None

    def check(self) -> None:
        self._api = workers_api(self.count)

    def launch(self, plan: StudyPlan, assignments: Sequence[Assignment]) -> None:
        for assignment in assignments:
            env = {WORKER_ID_VARIABLE: assignment.worker, "SEARCH_STORAGE": plan.config.storage.url}
            code = worker_code(self._root, worker_arguments(plan, assignment))
            try:
                launched = self._api.launch_workers(n=1, cpu=self._cpu, memory=self._memory, code=code, env=env)
            except Exception as error:  # the API's own errors: quota, bad resources, ...
                raise WorkerError(f"could not start CML worker {assignment.slot}: {one_line(error)}") from None
            self._launched[assignment.worker] = launched[0]
        self._waiter = threading.Thread(target=self._await, name="await-workers", daemon=True)
        self._waiter.start()

    def _await(self) -> None:
        try:
            self._result = self._api.await_workers(list(self._launched.values()), wait_for_completion=True,
                                                   timeout_seconds=0)
        except BaseException as error:
            self._error = error

    def wait(self, timeout: float) -> bool:
        if self._waiter is None:
            return True
        self._waiter.join(timeout)
        return not self._waiter.is_alive()

    def failures(self) -> dict[str, str]:
        """Every launched worker CML did not report as ended well, with its CML id and status."""
        if self._error is not None:
            return {ours: f"CML worker {cml['id']}: waiting for it failed: {one_line(self._error)}"
                    for ours, cml in self._launched.items()}
        result = self._result or {}
        succeeded = {described.get("id") for described in result.get("workers", [])}
        status = {described.get("id"): described.get("status", "unknown") for described in result.get("failures", [])}
        return {ours: f"CML worker {cml['id']}, status {status.get(cml['id'], 'unknown')}"
                for ours, cml in self._launched.items() if cml["id"] not in succeeded}

    def stop(self) -> None:
        ids = [cml["id"] for cml in self._launched.values()]
        if ids:
            self._api.stop_workers(*ids)


def workers_api(count: int) -> ModuleType:
    """``cml.workers_v1``, or a one-line error saying it only exists on CML."""
    try:
        from cml import workers_v1
    except ImportError:
        raise project.SettingError(
            f"SEARCH_WORKERS={count} needs CML's workers API (cml.workers_v1), which exists only in a CML job or "
            "session; set SEARCH_WORKERS=1 to run the trials in this process"
        ) from None
    return workers_v1


def worker_arguments(plan: StudyPlan, assignment: Assignment) -> list[str]:
    """The worker's command line: what `study_worker.py` needs to rebuild the job's study config."""
    args = [*plan.config.models, "--seed", str(plan.seed), "--slot", str(assignment.slot)]
    if assignment.n_trials is not None:
        args += ["--n-trials", str(assignment.n_trials)]
    if assignment.timeout is not None:
        args += ["--timeout", str(assignment.timeout)]
    return args


def worker_code(root: Path, arguments: list[str]) -> str:
    """The Python a CML worker runs when it starts: ``python cml/study_worker.py ARGUMENTS``, in its engine."""
    script = root / WORKER_SCRIPT
    return (
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(script.parent)!r})\n"
        f"sys.argv = {[str(script), *arguments]!r}\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
