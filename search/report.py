"""What a study command prints: its start line, its progress, its summary.

Used by ``search study`` and the CML study job alike; the study itself never
prints. Progress is a bar on a terminal, one line per trial in a log (a CML
job's, a pipe).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from search import defaults
from search.stores.tracking_store import ui_address
from search.study.progress import Reporter
from search.text import numbers_text, plural
from search.tracking import FAIL_REASON_ATTRIBUTE_KEY, INTERRUPTED_REASON, METRICS_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna
    from tqdm import tqdm

    from search.stores.urls import Store
    from search.study import StudyOutcome, StudyPlan


#: What a failed trial without a recorded reason was: its process died (or was killed) while running it.
LOST_TRIAL = "its process ended while running it (queued again)"


#: How the start line says which way a study's metric goes.
AIMS = {"maximize": "maximising", "minimize": "minimising"}


class ConsoleReporter(Reporter):
    """Prints a study's start line, a line (or a bar step) per finished trial, and its summary.

    Args:
        bar: A progress bar (on a terminal) instead of one line per trial.
        quiet: Neither bar nor trial lines: only the start line and the summary.
        ui: The address of an MLflow UI already serving the store (the CML application), if any.
        out: Where the start line, trial lines and summary go.
    """

    def __init__(
        self, *, bar: bool = False, quiet: bool = False, ui: str | None = None, out: IO[str] | None = None
    ) -> None:
        self._bar_wanted = bar and not quiet
        self._ui = ui
        self._quiet = quiet
        self._bar: tqdm | None = None
        self._out = out or sys.stdout
        self._plan: StudyPlan | None = None

    def _print(self, text: str = "") -> None:
        print(text, file=self._out, flush=True)

    def start(self, plan: StudyPlan) -> None:
        self._plan = plan
        config = plan.config
        drawn = f"sampler {config.sampler.value}, pruner {config.pruner.value}"
        earlier = dict.fromkeys(f"sampler {s.get('sampler')}, pruner {s.get('pruner')}" for s in plan.stretches)
        changed = [text for text in earlier if text != drawn]
        if changed:
            drawn += f" (the study's earlier trials used {' and '.join(changed)})"
        self._print(
            f"Study {config.name!r}: {', '.join(spec.name for spec in config.specs)} on {config.data.source} "
            f"({plan.data.task}), {AIMS[config.scoring.direction]} {config.scoring.cv_name} "
            f"({config.scoring.cv}-fold); {drawn}, seed {plan.seed}; storage {config.storage}"
        )
        for note in plan.notes():
            self._print(f"  note: {note}")
        if self._bar_wanted and config.n_trials is not None:
            from tqdm.auto import tqdm  # a notebook's own bar in a Jupyter kernel

            # No monitor thread: with only the main thread, helpers can be forked (see search.common.processes).
            tqdm.monitor_interval = 0
            self._bar = tqdm(total=config.n_trials, unit="trial", file=sys.stderr, dynamic_ncols=True)

    def trial(
        self, trial: optuna.trial.FrozenTrial, best: optuna.trial.FrozenTrial | None, done: int | None,
        total: int | None,
    ) -> None:
        if self._quiet or self._plan is None:
            return
        metric = self._plan.config.scoring.cv_name
        best_text = f"best {best.value:.4f} (trial {best.number})" if best is not None else "no best yet"
        if self._bar is not None:
            if done is not None:
                self._bar.n = done
            self._bar.set_postfix_str(best_text, refresh=True)
            return
        state = trial.state.name.lower()
        if trial.state.name == "COMPLETE":
            what = f"{metric} {trial.value:.4f}"
        elif trial.state.name == "PRUNED":
            folds = len(trial.intermediate_values)
            value = f", {metric} {trial.value:.4f} over them" if trial.value is not None else ""
            what = (f"stopped early: behind the other trials after {folds} of {self._plan.config.scoring.cv} "
                    f"folds{value}")
        else:
            state = "failed"
            what = _last_line(trial.user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, "")) or LOST_TRIAL
        of = "" if done is None else f"  [{done} of {total}]" if total is not None else f"  [{done}]"
        self._print(f"trial {trial.number} {state}  {what}  {best_text}{of}")

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self._out)
        else:
            self._print(text)

    def finish(self, outcome: StudyOutcome) -> None:
        if self._bar is not None:
            self._bar.n = outcome.added  # the last trial may count after the watcher's last look
            self._bar.close()
            self._bar = None
        for line in summary(outcome, self._ui):
            self._print(line)


def summary(outcome: StudyOutcome, ui: str | None = None) -> list[str]:
    """The lines that end a study command."""
    plan, study = outcome.plan, outcome.study
    config = plan.config
    lines = []
    if plan.trials_before:
        lines.append(f"Resumed: the study already had {plural(plan.trials_before, 'trial')}; added {outcome.added}.")
    else:
        lines.append(f"Ran {plural(outcome.added, 'trial')}.")
    trials = study.get_trials(deepcopy=False)
    states = Counter(trial.state.name.lower() for trial in trials)
    lines.append("Trials: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))
    failed = [t for t in trials if t.state.name == "FAIL" and FAIL_REASON_ATTRIBUTE_KEY in t.user_attrs]
    if failed:
        reason = _last_line(failed[-1].user_attrs[FAIL_REASON_ATTRIBUTE_KEY])
        lines.append(f"  last failure (trial {failed[-1].number}): {reason}")
    try:
        best = study.best_trial
    except ValueError:
        lines.append("No trial completed, so there is no best configuration yet.")
    else:
        spec, params = plan.space.decode(best.params)
        scores = best.user_attrs.get(METRICS_ATTRIBUTE_KEY, {})
        spread = scores.get(f"{config.scoring.cv_name}_std")
        spread_text = f" (std {spread:.4f} over {config.scoring.cv} folds)" if spread is not None else ""
        lines.append(f"Best: trial {best.number}, {config.scoring.cv_name} = {best.value:.4f}{spread_text}")
        lines.append(f"  model {spec.name}: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if outcome.recovered:
        lines.append(f"Recovered trials {numbers_text(outcome.recovered)}: their process had died; each was "
                     "failed, and queued again unless it was already a retry.")
    if outcome.worker_errors:
        lines += [f"  {error}" for error in outcome.worker_errors]
    if outcome.repaired:
        lines += _repair_lines(outcome, trials)
    if outcome.delivered is not None:
        lines += outcome.delivered.lines(config.scoring.name)
    if outcome.delivery_error is not None:
        lines.append(f"Best model: not logged ({outcome.delivery_error})")
    elif outcome.interrupted and config.log_model and outcome.delivered is None:
        lines.append("Best model: not refitted (interrupted); the next run of the study will.")
    if outcome.unlogged:
        lines.append(f"Warning: MLflow did not take trials {numbers_text(outcome.unlogged)} (the tracking store "
                     "is unreachable). They are safe in the Optuna storage; once the store is back, log them with:")
        lines.append(f"  {sync_command(plan)}")
    lines.append(f"MLflow: {plan.tracking}, experiment {plan.experiment!r} (id {outcome.experiment_id}), "
                 f"study run {outcome.study_run_id}")
    lines += ui_hint(plan.tracking, outcome.experiment_id, ui)
    return lines


def _repair_lines(outcome: StudyOutcome, trials: list[optuna.trial.FrozenTrial]) -> list[str]:
    """What the write-up logged in MLflow. A trial this command's signal cut short is logged then, as a rule
    (the signal passes Optuna's callbacks by): that is no repair, and the summary does not call it one."""
    cut_short = {t.number for t in trials if outcome.interrupted and t.state.name == "FAIL"
                 and str(t.user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, "")).startswith(INTERRUPTED_REASON)}
    repaired = outcome.repaired
    ours = [n for n in repaired.created if n in cut_short]
    rest = replace(repaired, created=[n for n in repaired.created if n not in cut_short])
    lines = [f"Logged the {'trial' if len(ours) == 1 else 'trials'} cut short ({numbers_text(ours)})."] if ours else []
    if rest:
        lines.append(f"Repaired MLflow: {rest.describe()}.")
    return lines


def interrupted_line(outcome: StudyOutcome, again: str = "Run the same command") -> str:
    """What an interrupted study command says last: what is kept, and how to finish."""
    logged = "and logged" if not outcome.unlogged else "(not all logged: see above)"
    if outcome.interrupted_in:
        return (f"interrupted while {outcome.interrupted_in}; every trial is saved {logged}. {again}, or "
                f"'{search_command()} sync {shlex.quote(outcome.plan.config.name)}', to finish it.")
    return (f"interrupted; every finished trial is saved {logged}, any trial cut short recorded as such. "
            f"{again} to resume.")


def sync_command(plan: StudyPlan) -> str:
    """The ``search sync`` command that logs what this study command could not (secrets masked)."""
    config = plan.config
    parts = [search_command(), "sync", shlex.quote(config.name), "--storage", shlex.quote(config.storage.masked),
             "--tracking-uri", shlex.quote(config.tracking.masked)]
    return " ".join(parts)


def ui_hint(tracking: Store, experiment_id: str, ui: str | None = None) -> list[str]:
    """How to see an experiment in the MLflow UI: its address where a UI serves it, else a command that works here."""
    if ui is not None or tracking.is_server:
        return [f"See it in the MLflow UI: {ui_address(ui or tracking.url, experiment_id)}"]
    return [
        f"See it in the MLflow UI: {search_command()} ui --tracking-uri {shlex.quote(tracking.masked)}",
        f"  then open {ui_address(f'http://127.0.0.1:{defaults.UI_PORT}', experiment_id)}",
    ]


def search_command() -> str:
    """How to run ``search`` from where the user is: its name if the shell finds this one, else its full path."""
    script = Path(sys.executable).parent / "search"
    found = shutil.which("search")
    if script.exists() and (found is None or Path(found).resolve() != script.resolve()):
        return shlex.quote(str(script))
    return "search"


def _last_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""
