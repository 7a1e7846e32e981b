"""`MLflowCallback`: logs every Optuna trial to MLflow, correctly under threads and processes."""

from __future__ import annotations

import functools
import json
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from search.tracking._records import METRICS_ATTRIBUTE_KEY, RUN_ID_ATTRIBUTE_KEY, RunRecord, build_record, record_failures, metric_names, truncate
from search.tracking._records import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH
from search.tracking._writer import RunUpdate, RunWriter

if TYPE_CHECKING:
    import optuna

#: Study system attribute holding the id of the study's parent run.
STUDY_RUN_ATTRIBUTE_KEY = "mlflow_study_run_id"
#: Study system attribute listing the trials not logged yet (for a backfill).
UNLOGGED_ATTRIBUTE_KEY = "mlflow_unlogged_trials"
#: Tag marking a study's parent run, and the tag naming its study.
ROLE_TAG, STUDY_TAG = "search.role", "optuna.study_name"
#: After a failed write, how long to queue trials before trying the store again.
RETRY_AFTER_SECONDS = 30.0


class UnloggedTrialsWarning(RuntimeWarning):
    """Some trials could not be written to MLflow yet; they are kept for a retry."""


class MLflowCallback:
    """Track each finished Optuna trial as an MLflow run.

    A drop-in replacement for ``optuna_integration.mlflow.MLflowCallback``:
    the same arguments give the same runs (one per trial, named after its
    number, in an experiment named after the study, with the same params,
    metrics and tags). Unlike it, it writes through an explicit
    ``MlflowClient``, so it stays correct with ``n_jobs > 1`` and several
    processes; it maps trial states to run statuses (PRUNED → KILLED,
    FAIL → FAILED); logs ``trial.report`` values as step metrics; and a
    tracking store that is down does not stop the study.

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
        study_run: Give the study a parent run (created once, shared by every
            worker and found again on resume) and log each trial as its child;
            the parent keeps the best trial's params and value up to date.
        study_run_params: Params of the parent run (the study's settings).
        background: Write runs from separate processes (started at once, so
            their start-up overlaps the caller's own set-up), so logging does not
            slow the optimisation; call `flush` (or `close`) before reading MLflow.
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
        self._background = background
        self._lock = threading.RLock()
        self._writer: Any = None  # RunWriter or BackgroundWriter, made on first use
        self._experiment_ids: dict[str, str] = {}
        self._study_run_ids: dict[str, str] = {}
        self._context_tags: dict[str, str] | None = None
        self._run_ids: dict[int, str] = {}  # trial id -> run id, for idempotence
        self._best: dict[str, float] = {}  # per study: best value, and the step/time it was logged at
        self._best_step: dict[str, int] = {}
        self._best_stamp: dict[str, int] = {}
        self._pending: dict[int, tuple[RunRecord, Any]] = {}  # (record, study) not written yet
        self._in_flight: dict[int, tuple[RunRecord, Any]] = {}  # handed to the background writer
        self._last_failure = 0.0
        self._studies: dict[str, Any] = {}  # by name, the studies this callback has logged trials of
        if background:  # start the writers now: their start-up overlaps whatever the caller does next
            self._get_writer_client()

    # -- the callback ---------------------------------------------------------------------------

    def __call__(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        record = build_record(
            study,
            trial,
            metric_name=self._metric_name,
            run_name=self._mlflow_kwargs.get("run_name"),
            extra_tags=self._mlflow_kwargs.get("tags") or {},
            tag_trial_user_attrs=self._tag_trial_user_attrs,
            tag_study_user_attrs=self._tag_study_user_attrs,
            now_ms=int(time.time() * 1000),
        )
        with self._lock:
            self._studies[study.study_name] = study
            self._submit(study, record)
            if self._study_run and record.trial_id not in self._pending:
                self._update_study_run(study, trial, self.study_run_id(study))

    @property
    def unlogged_trials(self) -> list[int]:
        """Numbers of the trials not (yet) written to MLflow."""
        return sorted(record.trial_number for record, *_ in self._pending.values())

    def flush(self) -> list[int]:
        """Write everything queued; returns the numbers of trials still unlogged (and warns about them)."""
        with self._lock:
            self._last_failure = 0.0
            self._retry_pending()
            if self._writer is not None and hasattr(self._writer, "flush"):
                try:
                    outcomes = self._writer.flush()
                except Exception as error:  # the writer died: everything it held is unlogged
                    outcomes = dict.fromkeys(self._in_flight, error)
                for trial_id, outcome in outcomes.items():
                    self._settle(trial_id, outcome)
            self._record_unlogged()
            if self._pending:
                warnings.warn(
                    f"MLflow tracking store unreachable: trials {_numbers(self.unlogged_trials)} are not logged "
                    "yet; they remain in the Optuna storage and can be logged again later.",
                    UnloggedTrialsWarning,
                    stacklevel=2,
                )
            return self.unlogged_trials

    def _record_unlogged(self) -> None:
        """Keep the unlogged trials' numbers with each study (``mlflow_unlogged_trials``), for a later backfill."""
        for study in self._studies.values():
            numbers = sorted(r.trial_number for r, s in self._pending.values() if s.study_name == study.study_name)
            stored = study._storage.get_study_system_attrs(study._study_id).get(UNLOGGED_ATTRIBUTE_KEY)
            if numbers or stored:
                try:
                    study._storage.set_study_system_attr(study._study_id, UNLOGGED_ATTRIBUTE_KEY, numbers)
                except Exception as error:  # the Optuna storage is down too: the warning still says which
                    warnings.warn(f"could not record the unlogged trials: {_one_line(error)}", UnloggedTrialsWarning,
                                  stacklevel=3)

    def close(self) -> list[int]:
        """Flush, then stop the background writer if there is one."""
        unlogged = self.flush()
        if self._writer is not None and hasattr(self._writer, "close"):
            self._writer.close()
            self._writer = None
        return unlogged

    # -- the decorator --------------------------------------------------------------------------

    def track_in_mlflow(self) -> Callable:
        """Decorate an objective so MLflow calls inside it log into the trial's run.

        The run is created when the trial starts and its id stored on the trial
        (``mlflow_run_id`` system attr), so the callback completes that same run.
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
                run = self._get_writer_client().create_run(
                    experiment_id, tags=tags, run_name=self._mlflow_kwargs.get("run_name", str(trial.number))
                )
                trial.storage.set_trial_system_attr(trial._trial_id, RUN_ID_ATTRIBUTE_KEY, run.info.run_id)
                if self._tracking_uri is not None:
                    mlflow.set_tracking_uri(self._tracking_uri)
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

    def _get_writer_client(self) -> Any:
        with self._lock:
            if self._writer is None:
                if self._background:
                    from search.tracking._background import BackgroundWriter

                    self._writer = BackgroundWriter(self._resolved_tracking_uri())
                else:
                    self._writer = RunWriter(self._resolved_tracking_uri())
            return self._writer.client

    def _run_context_tags(self) -> dict[str, str]:
        """The source/user tags ``mlflow.start_run`` would add, resolved once."""
        if self._context_tags is None:
            from mlflow.tracking.context.registry import resolve_tags

            self._context_tags = {k: v for k, v in resolve_tags().items() if not k.startswith("mlflow.source.git")}
        return self._context_tags

    def experiment_id(self, study: optuna.study.Study) -> str:
        if "experiment_id" in self._mlflow_kwargs and self._mlflow_kwargs["experiment_id"] is not None:
            return str(self._mlflow_kwargs["experiment_id"])
        if not self._create_experiment:
            from mlflow.tracking.fluent import _get_experiment_id

            return _get_experiment_id() or "0"
        with self._lock:
            if study.study_name not in self._experiment_ids:
                from search.tracking_store import get_or_create_experiment

                client = self._get_writer_client()
                self._experiment_ids[study.study_name] = get_or_create_experiment(client, study.study_name)
            return self._experiment_ids[study.study_name]

    def _parent_run_id(self, study: optuna.study.Study) -> str | None:
        if self._study_run:
            return self.study_run_id(study)
        if self._mlflow_kwargs.get("nested"):
            return _callers_active_run_id()
        return None

    def study_run_id(self, study: optuna.study.Study) -> str:
        """The study's parent run: found again through the study, or created exactly once."""
        with self._lock:
            cached = self._study_run_ids.get(study.study_name)
            if cached is not None:
                return cached
            client = self._get_writer_client()
            experiment_id = self.experiment_id(study)
            run_id = study._storage.get_study_system_attrs(study._study_id).get(STUDY_RUN_ATTRIBUTE_KEY)
            if run_id is None or not _run_exists(client, run_id, experiment_id):
                run_id = self._create_study_run(study, client, experiment_id)
                study._storage.set_study_system_attr(study._study_id, STUDY_RUN_ATTRIBUTE_KEY, run_id)
            else:
                client.update_run(run_id, status="RUNNING")  # resumed
            self._study_run_ids[study.study_name] = run_id
            return run_id

    def end_study_run(self, study: optuna.study.Study, status: str = "FINISHED") -> None:
        """Mark the study's parent run ended (a resumed study marks it running again)."""
        run_id = self._study_run_ids.get(study.study_name)
        if run_id is None:
            return
        try:
            self._get_writer_client().set_terminated(run_id, status=status)
        except Exception as error:
            warnings.warn(f"could not end the study run: {_one_line(error)}", UnloggedTrialsWarning, stacklevel=2)

    def _create_study_run(self, study: optuna.study.Study, client: Any, experiment_id: str) -> str:
        """Create a parent run; when several processes race, the oldest candidate wins."""
        from mlflow.entities import Param

        tags = {**self._run_context_tags(), ROLE_TAG: "study", STUDY_TAG: study.study_name}
        tags["direction"] = ",".join(d.name for d in study.directions)
        mine = client.create_run(experiment_id, tags=tags, run_name=study.study_name).info.run_id
        if self._study_run_params:
            params = [Param(k, truncate(v, MAX_PARAM_VAL_LENGTH)) for k, v in self._study_run_params.items()]
            client.log_batch(mine, params=params)
        candidates = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{ROLE_TAG}` = 'study' and tags.`{STUDY_TAG}` = '{_quote(study.study_name)}'",
            max_results=1000,
        )
        winner = min(candidates, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id
        if winner != mine:
            client.delete_run(mine)
        return winner

    def _update_study_run(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial, run_id: str) -> None:
        """Keep the parent's best-so-far up to date when this trial may have improved it."""
        if trial.state.name != "COMPLETE" or len(study.directions) != 1 or trial.value is None:
            return
        sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
        if sign * trial.value <= sign * self._best.get(study.study_name, -sign * float("inf")):
            return
        best = study.best_trial  # the global best: other workers may have done better
        self._best[study.study_name] = best.value
        name = metric_names(self._metric_name, 1)[0]
        tags = {"best_params": truncate(json.dumps(best.params, default=str), MAX_TAG_VAL_LENGTH),
                "best_trial_number": str(best.number)}
        metrics = {f"best_{name}": best.value}
        extra = best.user_attrs.get(METRICS_ATTRIBUTE_KEY)
        if isinstance(extra, Mapping):
            metrics.update({f"best_{k}": float(v) for k, v in extra.items() if k.startswith("test_")})
        # MLflow shows a metric's value at its highest step, latest timestamp: never let an older,
        # worse best (logged by another thread) outrank this one.
        step = max(best.number, self._best_step.get(study.study_name, 0))
        stamp = max(int(time.time() * 1000), self._best_stamp.get(study.study_name, 0) + 1)
        self._best_step[study.study_name], self._best_stamp[study.study_name] = step, stamp
        update = RunUpdate(run_id, metrics, tags, step=step, timestamp_ms=stamp)
        try:
            self._writer.update(update)
        except Exception as error:
            warnings.warn(f"could not update the study run's best trial: {_one_line(error)}", UnloggedTrialsWarning, stacklevel=3)

    # -- writing, retrying ----------------------------------------------------------------------

    def _submit(self, study: optuna.study.Study, record: RunRecord) -> None:
        """Write ``record`` now, hand it to the background writer, or keep it while the store is down."""
        if self._pending and time.monotonic() - self._last_failure >= RETRY_AFTER_SECONDS:
            self._retry_pending()
        if self._pending:  # the store failed moments ago: queue instead of stalling the study on it
            self._pending[record.trial_id] = (record, study)
            return
        self._attempt(record, study)

    def _attempt(self, record: RunRecord, study: optuna.study.Study) -> bool:
        self._in_flight[record.trial_id] = (record, study)
        try:
            experiment_id = self.experiment_id(study)
            parent_run_id = self._parent_run_id(study)
            record.run_id = record.run_id or self._run_ids.get(record.trial_id)
            self._get_writer_client()
            record.tags = {**self._run_context_tags(), **record.tags}
            outcome = self._writer.write(record, experiment_id, parent_run_id)
        except Exception as error:
            outcome = error
        if outcome is not None:  # None: queued for the background writer, settled at flush
            self._settle(record.trial_id, outcome)
        return not isinstance(outcome, BaseException)

    def _settle(self, trial_id: int, outcome: str | BaseException) -> None:
        entry = self._in_flight.pop(trial_id, None) or self._pending.get(trial_id)
        if isinstance(outcome, str):
            self._run_ids[trial_id] = outcome
            self._pending.pop(trial_id, None)
        elif entry is not None:
            self._keep_unlogged(*entry, outcome)

    def _retry_pending(self) -> None:
        for trial_id, (record, study) in list(self._pending.items()):
            del self._pending[trial_id]
            if not self._attempt(record, study):
                return

    def _keep_unlogged(self, record: RunRecord, study: optuna.study.Study, error: BaseException) -> None:
        first = not self._pending
        self._pending[record.trial_id] = (record, study)
        self._last_failure = time.monotonic()
        if first:
            warnings.warn(
                f"MLflow tracking store unreachable ({_one_line(error)}); trial {record.trial_number} and any "
                f"after it are kept and retried every {RETRY_AFTER_SECONDS:.0f} s.",
                UnloggedTrialsWarning,
                stacklevel=4,
            )


def _run_exists(client: Any, run_id: str, experiment_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    return run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active"


def _callers_active_run_id() -> str | None:
    """The run active in this thread, else in the main thread (where the user started it)."""
    import mlflow
    from mlflow.tracking import fluent

    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id
    stack = fluent._active_run_stack.get_all_thread_values().get(threading.main_thread().ident) or []
    return stack[-1].info.run_id if stack else None


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:20]))
    return shown + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")
