"""The MLflow tracking of a study's trials, in the layout ``search study`` writes: one factory for every user.

The command's own process, its worker processes and ``search sync`` all log
the same study the same way: a parent run with the study's settings, a child
run per trial with the estimator's own parameters, its model and its seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from search.tracking import MLflowCallback
from search.trials import shown_params

if TYPE_CHECKING:
    import optuna

    from models import SearchSpace
    from search.study.config import StudyConfig


def study_callback(
    config: StudyConfig,
    experiment_id: str,
    *,
    seed: int | None,
    background: bool,
    tags: Mapping[str, str] | None = None,
) -> MLflowCallback:
    """The callback logging ``config``'s study; ``tags`` go on every run, ``seed`` is the parent run's."""
    return MLflowCallback(
        tracking_uri=config.tracking.url,
        metric_name=config.scoring.cv_name,
        create_experiment=False,
        mlflow_kwargs={"experiment_id": experiment_id, "tags": dict(tags or {})},
        tag_trial_user_attrs=False,
        study_run=True,
        study_run_params={**config.settings(), **({"seed": seed} if seed is not None else {})},
        study_run_tags=tags,
        run_params=run_params_of(config.space),
        background=background,
    )


def run_params_of(space: SearchSpace) -> Callable[[optuna.trial.FrozenTrial], dict[str, Any]]:
    """A trial's params as its run shows them: the estimator's own (not the space's encoding), model, seed."""
    return functools.partial(shown_params, space, seed=True)
