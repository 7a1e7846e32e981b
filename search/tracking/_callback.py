"""`MLflowCallback`: logs every Optuna trial to MLflow, correctly under threads and processes."""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.tracking._client import (
    WriteError,
    as_write_error,
    get_or_create_experiment,
    numbers_text,
    one_line,
    run_context_tags,
)
from search.tracking._records import RUN_ID_ATTRIBUTE_KEY, RunRecord, build_record, metric_names, record_failures
from search.tracking._retry import UnloggedQueue
from search.tracking._study_run import StudyRun
from search.tracking._sync import SyncReport, reconcile
from search.tracking._writer import RunUpdate, RunWriter

if TYPE_CHECKING:
    import optuna

    from search.tracking._background import BackgroundWriter

#: Study user attribute listing the trials not logged yet, for anyone reading the study (a repair logs every
#: finished trial without a run, listed or not).
UNLOGGED_ATTRIBUTE_KEY = "mlflow_unlogged_trials"


class UnloggedTrialsWarning(RuntimeWarning):
    """Some trials could not be written to MLflow yet; they are kept for a retry."""


@dataclass
class _StudyState:
    """What the callback knows about one study it logs."""

    study: Any
    experiment_id: str
    study_run: StudyRun | None = None


class MLflowCallback:
    """Track each finished Optuna trial as an MLflow run.

    A drop-in replacement for ``optuna_integration.mlflow.MLflowCallback``:
    the same arguments give the same runs (one per trial, named after its
    number, in an experiment named after the study, with the same params,
    metrics and tags). Unlike it, it writes through an explicit
    ``MlflowClient``, so it stays correct with ``n_jobs > 1``, several
    processes and several studies; it maps trial states to run statuses
    (PRUNED → KILLED, FAIL → FAILED); logs ``trial.report`` values as step
    metrics; and a tracking store that is down does not stop the study.

    Example::

        import optuna
        from search.tracking import MLflowCallback

        callback = MLflowCallback(tracking_uri="sqlite:///mlflow.db", metric_name="accuracy")
        study = optuna.create_study(study_name="demo", direction="maximize")
        study.optimize(objective, n_trials=20, callbacks=[callback])

    Args:
        tracking_uri: The MLflow tracking URI; ``None`` uses MLflow's own resolution.
        metric_name: Name of the objective value's metric, or one name per objective.
        create_experiment: Log into an experiment named after the study (created
            if missing). When ``False``, use ``mlflow_kwargs["experiment_id"]``
            or MLflow's active experiment.
        mlflow_kwargs: ``experiment_id``, ``run_name``, ``nested`` and ``tags``,
            as ``mlflow.start_run`` takes them. ``nested=True`` nests each trial
            under the run active in the caller (also from worker threads).
        tag_study_user_attrs: Add the study's user attrs to each run's tags.
        tag_trial_user_attrs: Add the trial's user attrs to each run's tags.
        study_run: The layout ``search study`` writes: the study gets a parent
            run (created once, shared by every worker, found again on resume)
            that keeps the best trial's params and value up to date, and each
            trial is its child. ``metric_name`` then means a complete trial's
            value only: a pruned trial's (partial) value and the reported
            values go under ``<metric_name>_partial``.
        study_run_params: Params of the parent run (the study's settings).
        study_run_tags: Tags of the parent run.
        run_params: What a trial's run logs as params (default: the trial's own
            params); e.g. the estimator's parameters instead of a search space's
            encoding of them.
        background: Write runs from a separate process (started at once, so its
            start-up overlaps the caller's own set-up), so logging does not slow
            the optimisation; call `close` at the end.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        metric_name: str | Sequence[str] = "value",
        create_experiment: bool = True,
        mlflow_kwargs: dict[str, Any] | None = None,
        tag_study_user_attrs: bool = False,
        tag_trial_user_attrs: bool = True,
        *,
        study_run: bool = False,
        study_run_params: Mapping[str, Any] | None = None,
        study_run_tags: Mapping[str, str] | None = None,
        run_params: Callable[[optuna.trial.FrozenTrial], Mapping[str, Any]] | None = None,
        background: bool = False,
    ) -> None:
        if not isinstance(metric_name, Sequence):
            raise TypeError(f"Expected metric_name to be string or sequence of strings, got {type(metric_name)}.")
        self._tracking_uri = tracking_uri
        self._metric_name = metric_name
        self._create_experiment = create_experiment
        self._mlflow_kwargs = dict(mlflow_kwargs or {})
        self._tag_study_user_attrs = tag_study_user_attrs
        self._tag_trial_user_attrs = tag_trial_user_attrs
        self._study_run = study_run
        self._study_run_params = dict(study_run_params or {})
        self._study_run_tags = dict(study_run_tags or {})
        self._run_params = run_params
        self._lock = threading.RLock()
        self._foreground: RunWriter | None = None
        self._background: BackgroundWriter | None = None
        self._context_tags: dict[str, str] | None = None
        self._studies: dict[str, _StudyState] = {}
        self._run_ids: dict[tuple[str, int], str] = {}
        self._in_flight: dict[tuple[str, int], tuple[RunRecord, Any]] = {}
        self._unlogged = UnloggedQueue()
        self._probe: tuple[str, int] | None = None  # the queued trial sent to see whether the store is back
        if background:  # start the writer now: its start-up overlaps whatever the caller does next
            from search.tracking._background import BackgroundWriter

            self._background = BackgroundWriter(self._resolved_tracking_uri())

    # -- the callback ---------------------------------------------------------------------------

    def __call__(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        record = self._record(study, trial)
        with self._lock:
            self._settle_background()
            if self._unlogged.due():
                self._retry_unlogged()
            if self._unlogged:  # the store failed moments ago: queue instead of stalling the study on it
                self._unlogged.keep(record, study)
                return
            if self._attempt(record, study) and self._study_run:
                self._update_study_run(study, trial)

    def _record(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> RunRecord:
        return build_record(
            study,
            trial,
            metric_name=self._metric_name,
            run_name=self._mlflow_kwargs.get("run_name"),
            extra_tags=self._mlflow_kwargs.get("tags") or {},
            tag_trial_user_attrs=self._tag_trial_user_attrs,
            tag_study_user_attrs=self._tag_study_user_attrs,
            now_ms=int(time.time() * 1000),
            partial_values=self._study_run,
            params=self._run_params(trial) if self._run_params is not None else None,
        )

    @property
    def unlogged_trials(self) -> list[int]:
        """Numbers of the trials not (yet) written to MLflow."""
        return self._unlogged.numbers()

    def flush(self, timeout: float = 60.0, warn: bool = True) -> list[int]:
        """Write everything queued (waiting at most ``timeout`` s); the numbers of trials still unlogged.

        Records them on each study as its ``mlflow_unlogged_trials`` user
        attribute, and warns about them (unless ``warn`` is False: the caller says so itself).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._drain(deadline)
            if self._unlogged:
                self._retry_unlogged()
                self._drain(deadline)
            self._record_unlogged()
            if self._unlogged and warn:
                warnings.warn(
                    f"MLflow tracking store unreachable: trials {numbers_text(self.unlogged_trials)} are not logged "
                    "yet; they remain in the Optuna storage and can be logged again later.",
                    UnloggedTrialsWarning,
                    stacklevel=2,
                )
            return self.unlogged_trials

    def close(self, timeout: float = 60.0, warn: bool = True) -> list[int]:
        """Flush, then stop the background writer if there is one."""
        unlogged = self.flush(timeout, warn)
        if self._background is not None:
            self._background.close()
            self._background = None
        return unlogged

    # -- the study's parent run -----------------------------------------------------------------

    def experiment_id(self, study: optuna.study.Study) -> str:
        """The experiment ``study``'s runs go to (created if needed)."""
        return self._state(study).experiment_id

    def study_run_id(self, study: optuna.study.Study) -> str:
        """The study's parent run: found again through the study, or created exactly once."""
        state = self._state(study)
        if state.study_run is None:
            raise ValueError("this callback has no study run (pass study_run=True)")
        return state.study_run.run_id

    def tag_study_run(self, study: optuna.study.Study, tags: Mapping[str, str]) -> None:
        """Set tags on the study's parent run (e.g. what a stretch of trials was run with)."""
        from mlflow.entities import RunTag

        run_id = self.study_run_id(study)
        self._client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def end_study_run(self, study: optuna.study.Study, status: str = "FINISHED") -> None:
        """Mark the study's parent run ended (a resumed study marks it running again)."""
        state = self._studies.get(study.study_name)
        if state is None or state.study_run is None:
            return
        try:
            state.study_run.end(self._client(), status)
        except Exception as error:
            warnings.warn(f"could not end the study run: {one_line(error)}", UnloggedTrialsWarning, stacklevel=2)

    def sync(
        self, study: optuna.study.Study, repair: Callable[[optuna.trial.FrozenTrial], bool] = lambda trial: True
    ) -> SyncReport:
        """Give every finished trial of ``study`` exactly one complete run under its parent run (idempotent).

        Logs trials that have no run (``repair(trial)`` decides whether one
        may be logged now, where another process may still log it), ends runs
        left RUNNING, removes duplicates and brings the parent's best up to
        date. Needs ``study_run=True``. Raises if the store is unreachable.
        """
        with self._lock:
            self.flush()
            state = self._state(study, resume=False)
            if state.study_run is None:
                raise ValueError("sync needs the study layout (study_run=True)")
            self._client()
            assert self._foreground is not None
            report = reconcile(
                self._foreground, study, state.experiment_id, state.study_run.run_id,
                lambda trial: self._record(study, trial), repair,
            )
            for key in self._unlogged:
                if key[0] == study.study_name and key[1] not in report.left_to_their_process:
                    self._unlogged.discard(key)
            self._record_unlogged()
            update = state.study_run.best_update(study, None)
            if update is not None:
                self._foreground.update(update)
            return report

    # -- the decorator --------------------------------------------------------------------------

    def track_in_mlflow(self) -> Callable:
        """Decorate an objective so MLflow calls inside it log into the trial's run.

        The run is created when the trial starts and its id stored on the trial
        (``mlflow_run_id`` user attr), so the callback completes that same run.
        Objectives run concurrently under ``n_jobs > 1``: nothing is serialised.
        """
        import mlflow

        def decorator(func: Callable) -> Callable:
            @functools.wraps(func)
            @record_failures
            def wrapper(trial: optuna.trial.Trial, *args: Any, **kwargs: Any) -> Any:
                study = trial.study
                experiment_id = self.experiment_id(study)
                parent_run_id = self._parent_run_id(study)
                tags = {**self._run_context_tags(), **(self._mlflow_kwargs.get("tags") or {})}
                if parent_run_id is not None:
                    tags["mlflow.parentRunId"] = parent_run_id
                run = self._client().create_run(
                    experiment_id, tags=tags, run_name=self._mlflow_kwargs.get("run_name", str(trial.number))
                )
                trial.set_user_attr(RUN_ID_ATTRIBUTE_KEY, run.info.run_id)
                with self._lock:
                    if self._tracking_uri is not None:
                        mlflow.set_tracking_uri(self._tracking_uri)
                    # MLflow refuses to resume a run of another experiment than the process's active one
                    # (one setting for every thread): make the study's experiment the active one, as
                    # optuna-integration's callback did.
                    if _active_experiment_id() != experiment_id:
                        mlflow.set_experiment(experiment_id=experiment_id)
                with mlflow.start_run(run_id=run.info.run_id, nested=mlflow.active_run() is not None):
                    return func(trial, *args, **kwargs)

            return wrapper

        return decorator

    # -- where runs go --------------------------------------------------------------------------

    def _resolved_tracking_uri(self) -> str:
        if self._tracking_uri is not None:
            return self._tracking_uri
        import mlflow

        return mlflow.get_tracking_uri()

    def _client(self) -> Any:
        with self._lock:
            if self._foreground is None:
                self._foreground = RunWriter(self._resolved_tracking_uri())
            return self._foreground.client

    def _run_context_tags(self) -> dict[str, str]:
        if self._context_tags is None:
            self._context_tags = run_context_tags()
        return self._context_tags

    def _state(self, study: optuna.study.Study, resume: bool = True) -> _StudyState:
        """The experiment and parent run of ``study``, made on first use (may raise while the store is down).

        ``resume``: a parent run found again is marked RUNNING (the study goes on).
        """
        with self._lock:
            state = self._studies.get(study.study_name)
            if state is not None and state.study is study:
                return state
            if state is None:
                state = _StudyState(study, self._resolve_experiment_id(study))
            state.study = study
            if self._study_run and state.study_run is None:
                state.study_run = StudyRun.open(
                    self._client(),
                    study,
                    state.experiment_id,
                    metric_name=metric_names(self._metric_name, 1)[0],
                    params=self._study_run_params,
                    params_of=self._run_params,
                    tags={**self._run_context_tags(), **self._study_run_tags},
                    resume=resume,
                )
            self._studies[study.study_name] = state
            return state

    def _resolve_experiment_id(self, study: optuna.study.Study) -> str:
        if self._mlflow_kwargs.get("experiment_id") is not None:
            return str(self._mlflow_kwargs["experiment_id"])
        if not self._create_experiment:
            return _active_experiment_id()
        return get_or_create_experiment(self._client(), study.study_name)

    def _parent_run_id(self, study: optuna.study.Study) -> str | None:
        if self._study_run:
            return self.study_run_id(study)
        if self._mlflow_kwargs.get("nested"):
            return _callers_active_run_id()
        return None

    # -- writing, retrying ----------------------------------------------------------------------

    def _attempt(self, record: RunRecord, study: optuna.study.Study) -> bool:
        """Write ``record`` (or hand it to the background writer); False if the store did not take it."""
        try:
            state = self._state(study)
            parent_run_id = self._parent_run_id(study)
            record.run_id = record.run_id or self._run_ids.get(record.key)
            record.tags = {**self._run_context_tags(), **record.tags}
            if self._background is not None:
                self._in_flight[record.key] = (record, study)
                self._background.write(record, state.experiment_id, parent_run_id)
                return True
            self._client()
            assert self._foreground is not None
            outcome: str | WriteError = self._foreground.write(record, state.experiment_id, parent_run_id)
        except Exception as error:
            outcome = as_write_error(error)
        return self._settle_one(record, study, outcome)

    def _settle_one(self, record: RunRecord, study: Any, outcome: str | WriteError) -> bool:
        if isinstance(outcome, str):
            self._run_ids[record.key] = outcome
            return True
        if outcome.outage:
            if self._unlogged.keep(record, study):
                warnings.warn(
                    f"MLflow tracking store unreachable ({outcome}); trial {record.trial_number} and any after it "
                    f"are kept and retried every {self._unlogged.retry_after:.0f} s.",
                    UnloggedTrialsWarning,
                    stacklevel=4,
                )
        else:
            warnings.warn(f"MLflow refused trial {record.trial_number} of study {record.study_name!r}: {outcome}",
                          UnloggedTrialsWarning, stacklevel=4)
        return False

    def _settle(self, outcomes: list[tuple[tuple[str, int] | None, str | WriteError]]) -> None:
        for key, outcome in outcomes:
            entry = self._in_flight.pop(key, None) if key is not None else None
            if entry is None:
                if isinstance(outcome, WriteError):
                    warnings.warn(f"could not update the study run's best trial: {outcome}", UnloggedTrialsWarning,
                                  stacklevel=3)
                continue
            written = self._settle_one(entry[0], entry[1], outcome)
            if key == self._probe:
                self._probe = None
                if written:  # the store is back: send everything it missed
                    for record, study in self._unlogged.take():
                        self._attempt(record, study)

    def _settle_background(self) -> None:
        if self._background is not None:
            self._settle(self._background.outcomes())

    def _drain(self, deadline: float) -> None:
        """Wait (until ``deadline``) for the background writer's answers, including to what they make us send."""
        while self._background is not None and self._in_flight:
            outcomes, complete = self._background.flush(max(0.0, deadline - time.monotonic()))
            self._settle(outcomes)
            if not complete:  # the writer did not answer in time: what it holds is not confirmed
                for record, study in self._in_flight.values():
                    self._unlogged.keep(record, study)
                self._in_flight.clear()
                self._probe = None
                return

    def _retry_unlogged(self) -> None:
        """Try the store again with the oldest queued trial; once it takes that one, send the rest.

        One probe, not every queued trial, so a store that still does not
        answer costs one request's timeout, not one per queued trial. Never
        waits for the background writer: the study goes on meanwhile.
        """
        if not self._unlogged or self._probe is not None:
            return
        pending = self._unlogged.take()
        (record, study), rest = pending[0], pending[1:]
        for later, later_study in rest:
            self._unlogged.keep(later, later_study)
        if self._background is not None:
            self._probe = record.key
            self._attempt(record, study)
        elif self._attempt(record, study):
            rest = self._unlogged.take()
            for index, (later, later_study) in enumerate(rest):
                if not self._attempt(later, later_study) and later.key in self._unlogged:
                    for left, left_study in rest[index + 1 :]:  # down again: what is left stays queued
                        self._unlogged.keep(left, left_study)
                    break

    def _record_unlogged(self) -> None:
        """Keep the unlogged trials' numbers with each study (``mlflow_unlogged_trials``), for whoever reads it."""
        studies = {name: state.study for name, state in self._studies.items()}
        studies.update(self._unlogged.studies())
        for name, study in studies.items():
            numbers = self._unlogged.numbers(name)
            try:
                if numbers or study.user_attrs.get(UNLOGGED_ATTRIBUTE_KEY):
                    study.set_user_attr(UNLOGGED_ATTRIBUTE_KEY, numbers)
            except Exception as error:  # the Optuna storage is down too: the warning still says which
                warnings.warn(f"could not record the unlogged trials: {one_line(error)}", UnloggedTrialsWarning,
                              stacklevel=3)

    def _update_study_run(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Keep the parent's best-so-far up to date when this trial may have improved it."""
        state = self._studies[study.study_name]
        update: RunUpdate | None = state.study_run.best_update(study, trial) if state.study_run else None
        if update is None:
            return
        try:
            if self._background is not None:
                self._background.update(update)
            else:
                self._client()
                assert self._foreground is not None
                self._foreground.update(update)
        except Exception as error:
            warnings.warn(f"could not update the study run's best trial: {one_line(error)}", UnloggedTrialsWarning,
                          stacklevel=3)


def _active_experiment_id() -> str:
    """The experiment ``mlflow.set_experiment`` chose (MLflow has no public getter), else the default one."""
    from mlflow.tracking import fluent

    getter = getattr(fluent, "_get_experiment_id", None)
    return (getter() if getter is not None else None) or "0"


def _callers_active_run_id() -> str | None:
    """The run active in this thread, else in the main thread (where the user started it)."""
    import mlflow
    from mlflow.tracking import fluent

    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id
    stacks = getattr(fluent, "_active_run_stack", None)  # MLflow keeps each thread's runs; no public getter
    if stacks is None:
        return None
    stack = stacks.get_all_thread_values().get(threading.main_thread().ident) or []
    return stack[-1].info.run_id if stack else None


