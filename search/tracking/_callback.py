"""`MLflowCallback`: logs every Optuna trial to MLflow, correctly under threads and processes."""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from search.common.lines import numbers_text, one_line
from search.common.mlflow_compat import run_context_tags
from search.common.store_files import prepare_store
from search.tracking._destinations import Destinations, ParentRunLayout
from search.tracking._fluent import in_trial_run
from search.tracking._outage import Delivery, UnloggedTrialsWarning
from search.tracking._reconcile import SyncReport, reconcile
from search.tracking._records import RunRecord, build_record, metric_names
from search.tracking._study_run import StudyRun

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient

#: How long `sync` lets the writer process finish what it holds before it reconciles.
WRITER_STOP_SECONDS = 30.0


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
        create_experiment: bool = True,  # noqa: FBT001, FBT002 - positional, as in optuna-integration's callback
        mlflow_kwargs: dict[str, Any] | None = None,
        tag_study_user_attrs: bool = False,  # noqa: FBT001, FBT002
        tag_trial_user_attrs: bool = True,  # noqa: FBT001, FBT002
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
        self._mlflow_kwargs = dict(mlflow_kwargs or {})
        self._tag_study_user_attrs = tag_study_user_attrs
        self._tag_trial_user_attrs = tag_trial_user_attrs
        self._study_run = study_run
        self._run_params = run_params
        self._lock = threading.RLock()
        self._context_tags: dict[str, str] | None = None
        layout = None
        if study_run:
            layout = ParentRunLayout(metric_names(metric_name, 1)[0], dict(study_run_params or {}),
                                     dict(study_run_tags or {}), run_params)
        self._destinations = Destinations(
            self._client, self._resolved_tracking_uri, self._run_context_tags, layout=layout,
            experiment_id=self._mlflow_kwargs.get("experiment_id"),
            create_experiment=create_experiment, nested=bool(self._mlflow_kwargs.get("nested")),
        )
        if background:  # one process creates a new local store, before a writer process could race it
            prepare_store(self._resolved_tracking_uri())
        # The writer process starts now: its start-up overlaps whatever the caller does next.
        self._delivery = Delivery(self._resolved_tracking_uri, self._destinations, background=background)

    # -- the callback ---------------------------------------------------------------------------

    def __call__(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        record = self._record(study, trial)
        with self._lock:
            if self._delivery.send(record, study) and self._study_run:
                self._update_study_run(study, trial)

    def _record(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> RunRecord:
        return build_record(
            study,
            trial,
            metric_name=self._metric_name,
            run_name=self._mlflow_kwargs.get("run_name"),
            extra_tags={**self._run_context_tags(), **(self._mlflow_kwargs.get("tags") or {})},
            tag_trial_user_attrs=self._tag_trial_user_attrs,
            tag_study_user_attrs=self._tag_study_user_attrs,
            now_ms=int(time.time() * 1000),
            partial_values=self._study_run,
            params=self._run_params(trial) if self._run_params is not None else None,
        )

    @property
    def unlogged_trials(self) -> list[int]:
        """Numbers of the trials not (yet) written to MLflow."""
        with self._lock:
            return self._delivery.unlogged()

    def flush(self, timeout: float = 60.0, *, warn: bool = True) -> list[int]:
        """Write everything queued (waiting at most ``timeout`` s); the numbers of trials still unlogged.

        Records them on each study as its ``mlflow_unlogged_trials`` user
        attribute, and warns about them (unless ``warn`` is False: the caller says so itself).
        """
        with self._lock:
            self._delivery.flush(timeout)
            self._record_unlogged()
            unlogged = self._delivery.unlogged()
            if unlogged and warn:
                warnings.warn(
                    f"MLflow tracking store unreachable: trials {numbers_text(unlogged)} are not logged "
                    "yet; they remain in the Optuna storage and can be logged again later.",
                    UnloggedTrialsWarning,
                    stacklevel=2,
                )
            return unlogged

    def close(self, timeout: float = 60.0, *, warn: bool = True) -> list[int]:
        """Flush, then stop the writer process if there is one; the numbers of trials still unlogged."""
        with self._lock:
            unlogged = self.flush(timeout, warn=warn)
            self._delivery.stop_background(timeout=min(timeout, WRITER_STOP_SECONDS))
            self._record_unlogged()
            return unlogged if not unlogged else self._delivery.unlogged()

    # -- the study's parent run -----------------------------------------------------------------

    def experiment_id(self, study: optuna.study.Study) -> str:
        """The experiment ``study``'s runs go to (created if needed)."""
        return self._destinations.state(study).experiment_id

    def study_run_id(self, study: optuna.study.Study) -> str:
        """The study's parent run: found again through the study, or created exactly once."""
        return self._study_run_of(study).run_id

    def tag_study_run(self, study: optuna.study.Study, tags: Mapping[str, str]) -> None:
        """Set tags on the study's parent run (e.g. what a stretch of trials was run with)."""
        from mlflow.entities import RunTag

        run_id = self.study_run_id(study)
        self._client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def end_study_run(self, study: optuna.study.Study, status: str = "FINISHED") -> None:
        """Mark the study's parent run ended (a resumed study marks it running again)."""
        state = self._destinations.known(study.study_name)
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
        date. The writer process, if any, is stopped first (it writes what it
        holds), so nothing it still holds can duplicate a run afterwards; the
        callback writes from this process from then on. Needs
        ``study_run=True``. Raises if the store is unreachable.
        """
        with self._lock:
            self.flush(warn=False)
            self._delivery.stop_background(timeout=WRITER_STOP_SECONDS)
            study_run = self._study_run_of(study, resume=False)
            report = reconcile(
                self._delivery.writer, study, self.experiment_id(study), study_run.run_id,
                lambda trial: self._record(study, trial), repair,
            )
            self._delivery.forget(study.study_name, keep=set(report.left_to_their_process))
            self._record_unlogged()
            update = study_run.best_update(study, None)
            if update is not None:
                self._delivery.writer.update(update)
            return report

    # -- the decorator --------------------------------------------------------------------------

    def track_in_mlflow(self) -> Callable:
        """Decorate an objective so MLflow calls inside it log into the trial's run.

        The run is created when the trial starts and its id stored on the trial
        (``mlflow_run_id`` user attr), so the callback completes that same run.
        Objectives run concurrently under ``n_jobs > 1``: nothing is serialised.
        """
        return functools.partial(
            in_trial_run, client=self._client, destination=self._destinations, lock=self._lock,
            tags=lambda: {**self._run_context_tags(), **(self._mlflow_kwargs.get("tags") or {})},
            run_name=self._mlflow_kwargs.get("run_name"), tracking_uri=self._tracking_uri,
        )

    # -- where runs go --------------------------------------------------------------------------

    def _resolved_tracking_uri(self) -> str:
        if self._tracking_uri is not None:
            return self._tracking_uri
        import mlflow

        return mlflow.get_tracking_uri()

    def _client(self) -> MlflowClient:
        with self._lock:
            return self._delivery.writer.client

    def _run_context_tags(self) -> dict[str, str]:
        if self._context_tags is None:
            self._context_tags = run_context_tags()
        return self._context_tags

    def _study_run_of(self, study: optuna.study.Study, *, resume: bool = True) -> StudyRun:
        study_run = self._destinations.state(study, resume=resume).study_run
        if study_run is None:
            raise ValueError("this callback has no study run (pass study_run=True)")
        return study_run

    def _record_unlogged(self) -> None:
        self._delivery.record_unlogged(self._destinations.studies())

    def _update_study_run(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Keep the parent's best-so-far up to date when this trial may have improved it."""
        state = self._destinations.known(study.study_name)
        update = state.study_run.best_update(study, trial) if state is not None and state.study_run else None
        if update is not None:
            self._delivery.update(update)
