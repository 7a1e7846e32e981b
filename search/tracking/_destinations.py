"""Where each study's runs go: its experiment and, in the study layout, its parent run, made on first use.

One callback may log several studies (a notebook's in-memory studies, say):
each gets its own state, found by the study's name and object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.common.mlflow_client import get_or_create_experiment
from search.common.mlflow_compat import active_experiment_id, callers_active_run_id
from search.common.store_files import creating, sqlite_file
from search.tracking._study_run import StudyRun

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient


@dataclass(frozen=True)
class ParentRunLayout:
    """The study layout's parent run: what it is made with (see `StudyRun.open`)."""

    metric_name: str
    params: Mapping[str, Any]
    tags: Mapping[str, str]
    params_of: Callable[[optuna.trial.FrozenTrial], Mapping[str, Any]] | None = None


@dataclass
class StudyState:
    """What the callback knows about one study it logs."""

    study: optuna.study.Study
    experiment_id: str
    study_run: StudyRun | None = None


class Destinations:
    """The experiment and parent run of each study, as `MLflowCallback`'s arguments say.

    Args:
        client: The client to reach the store with.
        tracking_uri: The store's URI: a parent run in a local database is made under its lock file, so
            commands started at the same moment agree on one.
        context_tags: The tags ``mlflow.start_run`` would add, for a parent run made here.
        experiment_id: Every study's experiment; else one named after the study (``create_experiment``) or
            MLflow's active experiment.
        nested: Nest each trial's run under the caller's active run.
        layout: The study layout's parent run (None: no parent run).
    """

    def __init__(
        self,
        client: Callable[[], MlflowClient],
        tracking_uri: Callable[[], str],
        context_tags: Callable[[], Mapping[str, str]],
        *,
        experiment_id: str | None,
        create_experiment: bool,
        nested: bool,
        layout: ParentRunLayout | None,
    ) -> None:
        self._client = client
        self._tracking_uri = tracking_uri
        self._context_tags = context_tags
        self._experiment_id = experiment_id
        self._create_experiment = create_experiment
        self._nested = nested
        self._layout = layout
        self._studies: dict[str, StudyState] = {}
        self._lock = threading.RLock()

    def __call__(self, study: optuna.study.Study) -> tuple[str, str | None]:
        """The experiment id and the parent run id of ``study``'s runs (may raise while the store is down)."""
        state = self.state(study)
        if state.study_run is not None:
            return state.experiment_id, state.study_run.run_id
        return state.experiment_id, callers_active_run_id() if self._nested else None

    def known(self, study_name: str) -> StudyState | None:
        """The state of a study logged before, without reaching the store."""
        return self._studies.get(study_name)

    def studies(self) -> list[optuna.study.Study]:
        return [state.study for state in self._studies.values()]

    def state(self, study: optuna.study.Study, *, resume: bool = True) -> StudyState:
        """The experiment and parent run of ``study``, made on first use (may raise while the store is down).

        ``resume``: a parent run found again is marked RUNNING (the study goes on).
        """
        with self._lock:
            state = self._studies.get(study.study_name)
            if state is not None and state.study is study:
                return state
            if state is None:
                state = StudyState(study, self._find_experiment(study))
            state.study = study
            layout = self._layout
            if layout is not None and state.study_run is None:
                with creating(sqlite_file(self._tracking_uri())):
                    state.study_run = StudyRun.open(
                        self._client(), study, state.experiment_id, metric_name=layout.metric_name,
                        params=layout.params, params_of=layout.params_of,
                        tags={**self._context_tags(), **layout.tags}, resume=resume,
                    )
            self._studies[study.study_name] = state
            return state

    def _find_experiment(self, study: optuna.study.Study) -> str:
        if self._experiment_id is not None:
            return self._experiment_id
        if not self._create_experiment:
            return active_experiment_id()
        return get_or_create_experiment(self._client(), study.study_name)
