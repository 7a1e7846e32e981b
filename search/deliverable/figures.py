"""A study explained in pictures: Optuna's own matplotlib figures, for the study's run and for ``search plot``.

Optimisation history, parameter importances, parallel coordinates and slices.
A study of several models gets the choice of model as a slice (the scores each
model reached) and, per model, the figures of its own parameters. A figure a
study has too few trials for is skipped with a line saying why, never an error.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import MODEL_DIMENSION
from search.common.processes import start as start_process
from search.common.processes import watch_parent
from search.errors import InputError
from search.stores.optuna_storage import open_storage
from search.text import one_line, plural
from search.trials import metric_of, space_of, trials_frame

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext
    from types import ModuleType

    import optuna
    from matplotlib.figure import Figure as MatplotlibFigure
    from mlflow import MlflowClient

    from models import ModelSpec, SearchSpace
    from search.stores.urls import Store


@dataclass
class Figure:
    """One figure of a study (``figure`` is None when it was skipped, and ``skipped`` says why)."""

    filename: str
    figure: MatplotlibFigure | None = None
    skipped: str = ""
    #: Skipped because the study has fewer complete trials than this figure needs (0: for another reason).
    needs: int = 0


def study_figures(study: optuna.study.Study) -> Iterator[Figure]:
    """Every figure of ``study``, each made when asked for (so a caller can save and close it).

    They show what users know: the estimator's own parameters (``max_depth``,
    never the search space's ``max_depth_is_none``), and the metric's name on the axes.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")  # files, never a window
    import optuna.visualization.matplotlib as plots

    space, metric = space_of(study), metric_of(study)
    whole = _shown(study, space, None)
    # The study itself, not its renumbered copy: each point at its trial's number, as every table says it.
    yield _made("optimization_history.png", study,
                lambda: plots.plot_optimization_history(study, target_name=metric))
    if space is None or len(space.specs) == 1:
        yield from _of_parameters(whole, "", plots, metric)
        return
    yield _made("model_choice.png", whole,
                lambda: plots.plot_slice(whole, params=[MODEL_DIMENSION], target_name=metric))
    for spec in space.specs:
        yield from _of_parameters(_shown(study, space, spec), f"_{spec.name}", plots, metric)


def _of_parameters(study: optuna.study.Study, suffix: str, plots: ModuleType, metric: str) -> Iterator[Figure]:
    yield _made(f"param_importances{suffix}.png", study,
                lambda: plots.plot_param_importances(study, target_name=metric))
    yield _made(f"parallel_coordinate{suffix}.png", study,
                lambda: plots.plot_parallel_coordinate(study, target_name=metric))
    yield _made(f"slice{suffix}.png", study, lambda: plots.plot_slice(study, target_name=metric))


#: Complete trials a figure needs to say anything (Optuna would rank parameters of one trial as equal).
MIN_TRIALS = {"param_importances": 3, "parallel_coordinate": 2}
#: The figures drawn for each model of a several-model study (their names end with the model's).
PER_MODEL = ("param_importances", "parallel_coordinate", "slice")
#: A figure's height, and the width each of its panels gets (a slice plot has one per parameter).
HEIGHT, PANEL_WIDTH, MIN_WIDTH = 5.5, 3.6, 10.0


def _made(filename: str, study: optuna.study.Study, draw: Callable[[], Any]) -> Figure:
    import matplotlib.pyplot as plt
    import optuna

    needed = next((n for kind, n in MIN_TRIALS.items() if filename.startswith(kind)), 1)
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    if complete < needed:
        return Figure(filename, skipped=f"{filename}: skipped (needs {plural(needed, 'complete trial')}, "
                                        f"it has {complete})", needs=needed)
    with warnings.catch_warnings():  # "experimental" visualisations, and their hints on empty studies
        warnings.simplefilter("ignore")
        try:
            axes = draw()
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as error:
            plt.close("all")
            return Figure(filename, skipped=f"{filename}: skipped ({' '.join(str(error).split()) or 'too few trials'})")
    figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
    if not figure.axes or not any(ax.has_data() for ax in figure.axes):
        plt.close(figure)
        return Figure(filename, skipped=f"{filename}: skipped (no complete trial to draw)")
    _lay_out(figure)
    return Figure(filename, figure)


def _lay_out(figure: MatplotlibFigure) -> None:
    """Room for every panel and its labels: wider with more panels, long tick labels slanted, the colour bar
    in a margin of its own, and no labels on a log axis's minor ticks (they overprint each other)."""
    from matplotlib.ticker import NullFormatter

    bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    panels = [ax for ax in figure.axes if ax not in bars]
    figure.set_size_inches(max(MIN_WIDTH, PANEL_WIDTH * len(panels)), HEIGHT)
    for ax in panels:
        ax.xaxis.set_minor_formatter(NullFormatter())
        labels = ax.get_xticklabels()
        if len(labels) > 4 or any(len(label.get_text()) > 6 for label in labels):
            ax.tick_params(axis="x", labelrotation=30)
            for label in labels:
                label.set_horizontalalignment("right")
    with warnings.catch_warnings():  # a colour bar's axes: placed below instead
        warnings.simplefilter("ignore", UserWarning)
        figure.tight_layout(rect=(0, 0, 0.93 if bars else 1, 1))
    for bar in bars:
        bar.set_position((0.945, 0.15, 0.012, 0.7))


def _shown(study: optuna.study.Study, space: SearchSpace | None, model: ModelSpec | None) -> optuna.study.Study:
    """An in-memory copy of ``study``'s complete trials as users know them: the estimator's own params.

    ``model``: only that model's trials and parameters (else every trial; in a study of several models, the
    model choice alone). A parameter at ``None`` (``max_depth`` unlimited) is left out of that trial.
    """
    import optuna

    shown = optuna.create_study(study_name=study.study_name, directions=study.directions)
    trials = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if space is None:
            params, distributions = dict(trial.params), dict(trial.distributions)
        else:
            spec, decoded = space.decode(trial.params)
            if model is not None and spec.name != model.name:
                continue
            if model is None and len(space.specs) > 1:
                params = {MODEL_DIMENSION: spec.name}
                distributions = {MODEL_DIMENSION: trial.distributions[MODEL_DIMENSION]}
            else:
                declared = {param.name: param for param in spec.params}
                params = {k: v for k, v in decoded.items() if v is not None}
                distributions = {k: declared[k].distribution() for k in params}
        trials.append(optuna.trial.create_trial(params=params, distributions=distributions, values=trial.values))
    shown.add_trials(trials)
    return shown


def log_figures(client: MlflowClient, run_id: str, study: optuna.study.Study) -> list[str]:
    """Log every figure on run ``run_id`` under ``plots/``; the lines saying which were skipped and why."""
    import matplotlib.pyplot as plt

    skipped = []
    for made in study_figures(study):
        if made.figure is None:
            skipped.append(made)
            continue
        client.log_figure(run_id, made.figure, f"plots/{made.filename}")
        plt.close(made.figure)
    return skip_lines(skipped)


def write_figures(study: optuna.study.Study, folder: os.PathLike) -> tuple[list, list]:
    """Write every figure into ``folder``; the files written, and the lines saying which were skipped."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot write figures into {str(folder)!r}: {error.strerror or error}") from None
    written, skipped = [], []
    for made in study_figures(study):
        if made.figure is None:
            skipped.append(made)
            continue
        path = folder / made.filename
        made.figure.savefig(path, dpi=100)
        plt.close(made.figure)
        written.append(path)
    return written, skip_lines(skipped)


def skip_lines(skipped: list[Figure]) -> list[str]:
    """A line per skipped figure; those a several-model study has too few trials for yet, in one line."""
    few = [made for made in skipped if made.needs]
    if len(few) <= 2:
        return [made.skipped for made in skipped]
    needs, models = {}, {}
    for made in few:
        kind, model = _kind_and_model(made.filename)
        needs[kind] = made.needs
        models[model] = None
    return [*(made.skipped for made in skipped if not made.needs),
            f"{len(few)} figures skipped, too few complete trials yet "
            f"({', '.join(f'{kind} needs {n}' for kind, n in needs.items())})"
            + (f": {', '.join(models)}" if any(models) else "")]


def _kind_and_model(filename: str) -> tuple[str, str]:
    name = filename.removesuffix(".png")
    kind = next((kind for kind in PER_MODEL if name.startswith(kind)), name)
    return kind, name.removeprefix(kind).removeprefix("_")


def log_explanation(client: MlflowClient, run_id: str, study: optuna.study.Study) -> list[str]:
    """The figures and ``trials.csv`` on run ``run_id``; the lines saying which figures were skipped."""
    skipped = log_figures(client, run_id, study)
    client.log_text(run_id, trials_frame(study, scores=True).to_csv(index=False), "trials.csv")
    return skipped


class FigureProcess:
    """Draws and logs a study's figures and ``trials.csv`` in another process.

    Started when the trials start, it imports matplotlib while they run, and at
    the end draws while this process refits and logs the best model: the two
    take turns on two cores instead of adding up. It ignores Ctrl-C and SIGTERM;
    its owner tells it to draw, or to stop.
    """

    def __init__(self, context: BaseContext, storage: Store, study_name: str, tracking: Store, run_id: str) -> None:
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_figures, name="figures", daemon=True,
                                        args=(child, os.getpid(), storage, study_name, tracking, run_id))
        start_process(self._process)
        child.close()  # the child holds the only other end: if it dies, our reads end at once

    def draw(self) -> None:
        self._pipe.send("draw")

    def result(self, timeout: float = 120.0) -> list[str]:
        """The lines saying which figures were skipped; raises if the process could not log them."""
        try:
            if not self._pipe.poll(timeout):
                raise RuntimeError(f"the figures were not drawn within {timeout:.0f} s")
            kind, value = self._pipe.recv()
        except EOFError:
            raise RuntimeError("the process drawing the figures stopped") from None
        finally:
            self.close()
        if kind == "error":
            raise RuntimeError(value)
        return value

    def close(self, *, wait: bool = True) -> None:
        """Stop the process: let it finish what it draws (``wait``, up to 10 s), else at once."""
        if self._process.is_alive() and wait:
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _serve_figures(pipe: Connection, owner: int, storage: Store, study_name: str, tracking: Store, run_id: str) -> None:
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # its owner tells it when to stop
        signal.signal(signum, signal.SIG_IGN)
    watch_parent(owner)  # never outlives its owner, even blocked in recv (kill -9 of the owner included)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401 - imported now, while the trials run
    import optuna
    import optuna.importance
    import optuna.visualization.matplotlib

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a spawned process starts with Optuna's INFO lines
    try:
        if pipe.recv() != "draw":
            return
    except EOFError:  # its owner is gone
        return
    try:
        from mlflow import MlflowClient

        study = optuna.load_study(study_name=study_name, storage=open_storage(storage, read_only=True))
        pipe.send(("done", log_explanation(MlflowClient(tracking.url), run_id, study)))
    except Exception as error:
        pipe.send(("error", one_line(error)))
