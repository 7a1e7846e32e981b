"""The parent run of a study: created once, found again on resume, keeping the best trial so far."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from search.common.mlflow_client import ROLE_TAG, STUDY_TAG, quote
from search.tracking._records import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH, METRICS_ATTRIBUTE_KEY, truncate
from search.tracking._writer import RunUpdate

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from mlflow.entities import Run

#: Study user attribute holding the id of the study's parent run.
STUDY_RUN_ATTRIBUTE_KEY = "mlflow_study_run_id"


class StudyRun:
    """One study's parent run.

    Its id is kept with the study (``mlflow_study_run_id``), so every worker
    and every resume finds the same run. Processes that do not share a study
    object and open it at the same moment take turns under the store's lock
    file when it is a local database; on a server, the oldest candidate wins
    and the others delete theirs.

    Its duration is the time commands spent on the study, not the time since
    its first command: a resume carries on the clock where the last command
    stopped it (`end` sets the end time to the start plus the time spent).
    """

    def __init__(
        self, run_id: str, metric_name: str, params_of: Callable[[optuna.trial.FrozenTrial], Mapping[str, Any]] | None
    ) -> None:
        self.run_id = run_id
        self.metric_name = metric_name
        self.params_of = params_of
        self._best: float | None = None
        self._step = 0
        self._stamp = 0
        #: The run's start, and the moment its clock carried on from (its start, or a resume minus time spent).
        self._started_ms = self._clock_from_ms = int(time.time() * 1000)

    @classmethod
    def open(
        cls,
        client: MlflowClient,
        study: optuna.study.Study,
        experiment_id: str,
        *,
        metric_name: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
        params_of: Callable[[optuna.trial.FrozenTrial], Mapping[str, Any]] | None = None,
        resume: bool = True,
    ) -> StudyRun:
        run_id = study.user_attrs.get(STUDY_RUN_ATTRIBUTE_KEY)
        found = _active_run(client, run_id, experiment_id) if run_id is not None else None
        if found is None:
            run_id = _create(client, study, experiment_id, params, tags)
            study.set_user_attr(STUDY_RUN_ATTRIBUTE_KEY, run_id)
        opened = cls(run_id, metric_name, params_of)
        if found is not None:
            info = found.info
            spent = (info.end_time - info.start_time) if info.end_time and info.start_time else 0
            opened._started_ms = info.start_time or opened._started_ms
            opened._clock_from_ms -= max(0, spent)
            if resume:
                client.update_run(run_id, status="RUNNING")
        return opened

    def best_update(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial | None) -> RunUpdate | None:
        """The parent's new best-so-far when ``trial`` may have improved it (``None``: log the current best).

        MLflow shows a metric's value at its highest step, then latest
        timestamp, so both only ever grow: an older, worse best logged late
        (by another thread) can never outrank a newer one.
        """
        if len(study.directions) != 1:
            return None
        if trial is not None:
            if trial.state.name != "COMPLETE" or trial.value is None:
                return None
            sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
            if self._best is not None and sign * trial.value <= sign * self._best:
                return None
        try:
            best = study.best_trial  # the global best: other workers may have done better
        except ValueError:  # no complete trial
            return None
        self._best = best.value
        params = self.params_of(best) if self.params_of is not None else best.params
        tags = {
            "best_params": truncate(json.dumps(dict(params), default=str), MAX_TAG_VAL_LENGTH),
            "best_trial_number": str(best.number),
        }
        metrics = {f"best_{self.metric_name}": best.value}
        extra = best.user_attrs.get(METRICS_ATTRIBUTE_KEY)
        if isinstance(extra, Mapping):
            metrics.update({f"best_{k}": float(v) for k, v in extra.items() if k.startswith("test_")})
        self._step = max(best.number, self._step)
        self._stamp = max(int(time.time() * 1000), self._stamp + 1)
        return RunUpdate(self.run_id, metrics, tags, step=self._step, timestamp_ms=self._stamp)

    def end(self, client: MlflowClient, status: str = "FINISHED") -> None:
        """End the run, its duration the time spent on the study by this command and the ones before it."""
        spent = int(time.time() * 1000) - self._clock_from_ms
        client.set_terminated(self.run_id, status=status, end_time=self._started_ms + spent)


def _active_run(client: MlflowClient, run_id: str, experiment_id: str) -> Run | None:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    return run if run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active" else None


def _create(
    client: MlflowClient,
    study: optuna.study.Study,
    experiment_id: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
) -> str:
    """Create a parent run; when several processes race, the oldest candidate wins."""
    from mlflow.entities import Param

    tags = {**tags, ROLE_TAG: "study", STUDY_TAG: study.study_name,
            "direction": ",".join(d.name for d in study.directions)}
    mine = client.create_run(experiment_id, tags=tags, run_name=study.study_name).info.run_id
    if params:
        client.log_batch(mine, params=[Param(k, truncate(v, MAX_PARAM_VAL_LENGTH)) for k, v in params.items()])
    candidates = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{ROLE_TAG}` = 'study' and tags.`{STUDY_TAG}` = {quote(study.study_name)}",
        max_results=1000,
    )
    if not candidates:  # a store that does not find what it just wrote: keep ours
        return mine
    winner = min(candidates, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id
    if winner != mine:
        client.delete_run(mine)
    return winner
