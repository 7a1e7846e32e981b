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

if TYPE_CHECKING:
    import optuna

    from models import SearchSpace


@dataclass
class Figure:
    """One figure of a study (``figure`` is None when it was skipped, and ``skipped`` says why)."""

    filename: str
    figure: Any = None
    skipped: str = ""


def study_figures(study: optuna.study.Study, space: SearchSpace | None) -> Iterator[Figure]:
    """Every figure of ``study``, each made when asked for (so a caller can save and close it)."""
    from models._space import MODEL_DIMENSION, PREFIX_SEPARATOR

    os.environ.setdefault("MPLBACKEND", "Agg")  # files, never a window
    import optuna.visualization.matplotlib as plots

    yield _made("optimization_history.png", study, lambda: plots.plot_optimization_history(study))
    if space is None or len(space.specs) == 1:
        yield from _of_parameters(study, "", plots)
        return
    yield _made("model_choice.png", study, lambda: plots.plot_slice(study, params=[MODEL_DIMENSION]))
    for spec in space.specs:
        own = _sub_study(study, spec.name, spec.name + PREFIX_SEPARATOR)
        yield from _of_parameters(own, f"_{spec.name}", plots)


def _of_parameters(study: optuna.study.Study, suffix: str, plots: Any) -> Iterator[Figure]:
    yield _made(f"param_importances{suffix}.png", study, lambda: plots.plot_param_importances(study))
    yield _made(f"parallel_coordinate{suffix}.png", study, lambda: plots.plot_parallel_coordinate(study))
    yield _made(f"slice{suffix}.png", study, lambda: plots.plot_slice(study))


#: Complete trials a figure needs to say anything (Optuna would rank parameters of one trial as equal).
MIN_TRIALS = {"param_importances": 3, "parallel_coordinate": 2}


def _made(filename: str, study: optuna.study.Study, draw: Callable[[], Any]) -> Figure:
    import matplotlib.pyplot as plt
    import optuna

    needed = next((n for kind, n in MIN_TRIALS.items() if filename.startswith(kind)), 1)
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    if complete < needed:
        return Figure(filename, skipped=f"{filename}: skipped (needs {needed} complete trials, the study has "
                                        f"{complete})")
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
    figure.set_size_inches(10, 6)
    with warnings.catch_warnings():  # a colour bar's axes: laid out well enough all the same
        warnings.simplefilter("ignore", UserWarning)
        figure.tight_layout()
    return Figure(filename, figure)


def _sub_study(study: optuna.study.Study, model: str, prefix: str) -> optuna.study.Study:
    """The trials of one model of a several-model study, its parameters without the model's prefix."""
    import optuna

    from models._space import MODEL_DIMENSION

    own = optuna.create_study(study_name=f"{study.study_name}:{model}", directions=study.directions)
    trials = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if trial.params.get(MODEL_DIMENSION) != model:
            continue
        params = {k[len(prefix):]: v for k, v in trial.params.items() if k.startswith(prefix)}
        distributions = {k[len(prefix):]: d for k, d in trial.distributions.items() if k.startswith(prefix)}
        trials.append(optuna.trial.create_trial(params=params, distributions=distributions, values=trial.values))
    own.add_trials(trials)
    return own


def log_figures(client: Any, run_id: str, study: optuna.study.Study, space: SearchSpace | None) -> list[str]:
    """Log every figure on run ``run_id`` under ``plots/``; the lines saying which were skipped and why."""
    import matplotlib.pyplot as plt

    skipped = []
    for made in study_figures(study, space):
        if made.figure is None:
            skipped.append(made.skipped)
            continue
        client.log_figure(run_id, made.figure, f"plots/{made.filename}")
        plt.close(made.figure)
    return skipped


def write_figures(study: optuna.study.Study, space: SearchSpace | None, folder: os.PathLike) -> tuple[list, list]:
    """Write every figure into ``folder``; the files written, and the lines saying which were skipped."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from search.errors import InputError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot write figures into {str(folder)!r}: {error.strerror or error}") from None
    written, skipped = [], []
    for made in study_figures(study, space):
        if made.figure is None:
            skipped.append(made.skipped)
            continue
        path = folder / made.filename
        made.figure.savefig(path, dpi=100)
        plt.close(made.figure)
        written.append(path)
    return written, skipped


def log_explanation(client: Any, run_id: str, study: optuna.study.Study, space: SearchSpace | None) -> list[str]:
    """The figures and ``trials.csv`` on run ``run_id``; the lines saying which figures were skipped."""
    from search.trials import trials_frame

    skipped = log_figures(client, run_id, study, space)
    client.log_text(run_id, trials_frame(study, scores=True).to_csv(index=False), "trials.csv")
    return skipped


class FigureProcess:
    """Draws and logs a study's figures and ``trials.csv`` in another process.

    Started when the trials start, it imports matplotlib while they run, and at
    the end draws while this process refits and logs the best model: the two
    take turns on two cores instead of adding up. It ignores Ctrl-C and SIGTERM;
    its owner tells it to draw, or to stop.
    """

    def __init__(self, context: Any, storage_url: str, study_name: str, tracking_uri: str, run_id: str) -> None:
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_figures, args=(child, storage_url, study_name, tracking_uri,
                                                                     run_id), name="figures", daemon=True)
        self._process.start()

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

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _serve_figures(pipe: Any, storage_url: str, study_name: str, tracking_uri: str, run_id: str) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401 - imported now, while the trials run
    import optuna
    import optuna.importance
    import optuna.visualization.matplotlib

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a spawned process starts with Optuna's INFO lines
    if pipe.recv() != "draw":
        return
    try:
        from mlflow import MlflowClient

        from search.stores.optuna import open_storage
        from search.trials import space_of

        study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url, read_only=True))
        pipe.send(("done", log_explanation(MlflowClient(tracking_uri), run_id, study, space_of(study))))
    except Exception as error:
        from search.tracking import one_line

        pipe.send(("error", one_line(error)))
