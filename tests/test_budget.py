"""Where a study's time goes, in-process on real Optuna studies: starting points, and the model each trial tries.

A new study starts from each family's untuned model (`ModelSpec.start`); after that, in a several-model study,
`search.study.families` gives the time to the families by cost and takes it from those clearly behind.
"""

from __future__ import annotations

import datetime

import optuna
import pytest

from models import SearchSpace
from search.plugins import models_named
from search.study import StudyConfig
from search.study.families import (
    LEADER_SHARE,
    MIN_TRIALS,
    START_ATTRIBUTE_KEY,
    FamilySampler,
    next_family,
    records,
)
from search.study.plan import open_study, plan_study
from search.tracking import METRICS_ATTRIBUTE_KEY

optuna.logging.set_verbosity(optuna.logging.WARNING)

FAMILIES = ("cheap", "costly", "third")
MODEL = optuna.distributions.CategoricalDistribution(list(FAMILIES))
T0 = datetime.datetime(2026, 1, 1)


def _trial(family: str, seconds: float, value: float | None, folds: tuple[float, ...] = (),
           state: optuna.trial.TrialState = optuna.trial.TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    """A finished trial of ``family`` that took ``seconds`` and scored ``value`` over ``folds``."""
    return optuna.trial.FrozenTrial(
        number=0, trial_id=0, state=state, value=value if state == optuna.trial.TrialState.COMPLETE else None,
        values=None, datetime_start=T0, datetime_complete=T0 + datetime.timedelta(seconds=seconds),
        params={"model": family}, distributions={"model": MODEL},
        user_attrs={METRICS_ATTRIBUTE_KEY: {"fold_accuracy": list(folds)}} if folds else {},
        system_attrs={}, intermediate_values={},
    )


def _next(trials, *, minimise: bool = False) -> str:
    return next_family(records(trials, FAMILIES, minimise=minimise, now=T0), minimise=minimise)


def test_a_family_no_trial_has_tried_goes_first():
    assert _next([_trial("cheap", 1, 0.9), _trial("costly", 1, 0.8)]) == "third"


def test_the_time_is_shared_by_cost_so_a_cheap_family_gets_more_trials():
    seconds = {"cheap": 0.1, "costly": 1.0, "third": 1.0}
    even = (0.71, 0.91, 0.81)  # folds that spread widely: nobody is clearly behind
    trials = [_trial("cheap", 0.1, 0.80), _trial("costly", 1.0, 0.81, folds=even), _trial("third", 1.0, 0.79)]
    chosen = []
    for _ in range(40):
        family = _next(trials)
        chosen.append(family)
        trials.append(_trial(family, seconds[family], 0.70))
    assert chosen[:4] == ["cheap"] * 4, "the cheap family catches up on time first"
    assert chosen.count("third") >= 2, "then each gets its turn"
    assert chosen.count("cheap") >= 8 * chosen.count("third"), "ten trials of it in the time of one of third"


def test_the_leader_gets_its_share_of_the_time_several_times_over():
    trials = [_trial("cheap", 1.0, 0.95, folds=(0.85, 1.0, 1.0)), _trial("costly", 1.0, 0.94),
              _trial("third", 1.0, 0.94)]
    chosen = []
    for _ in range(12):
        family = _next(trials)
        chosen.append(family)
        trials.append(_trial(family, 1.0, 0.90))
    assert chosen.count("cheap") == LEADER_SHARE * chosen.count("costly") == LEADER_SHARE * chosen.count("third")


def test_a_family_clearly_behind_gets_no_more_trials_though_it_has_had_the_least_time():
    leader = [_trial("cheap", 5.0, 0.95, folds=(0.94, 0.95, 0.96, 0.95, 0.95))]
    behind = [_trial("costly", 0.1, 0.70) for _ in range(MIN_TRIALS)]
    close = [_trial("third", 0.3, 0.949) for _ in range(MIN_TRIALS)]
    assert _next(leader + behind + close) == "third", "costly is 0.25 behind, 36 standard errors"
    assert _next(leader + behind[:-1] + close) == "costly", "with fewer trials a family is not judged yet"


def test_a_family_whose_every_trial_failed_is_behind():
    trials = [_trial("cheap", 1.0, 0.9), _trial("third", 9.0, 0.9)]
    trials += [_trial("costly", 0.1, None, state=optuna.trial.TrialState.FAIL) for _ in range(MIN_TRIALS)]
    assert _next(trials) == "cheap"


def test_lower_is_better_is_read_from_the_direction():
    leader = [_trial("cheap", 5.0, 10.0, folds=(10.0, 10.1, 9.9))]
    behind = [_trial("costly", 0.1, 20.0) for _ in range(MIN_TRIALS)]
    assert _next(leader + behind + [_trial("third", 9.0, 10.0)], minimise=True) == "cheap"


def test_the_family_sampler_picks_the_model_and_its_base_the_parameters():
    space = SearchSpace(models_named(["knn", "linear"]))
    study = optuna.create_study(direction="maximize",
                                sampler=FamilySampler(optuna.samplers.TPESampler(seed=1, n_startup_trials=2)))

    def objective(trial: optuna.trial.Trial) -> float:
        spec, _ = space.sample(trial)
        return 1.0 if spec.name == "linear" else 0.5  # knn is far behind on every draw

    study.optimize(objective, n_trials=12)
    models = [trial.params["model"] for trial in study.trials]
    assert models[:2] == ["knn", "linear"], "each family first"
    assert models.count("knn") == MIN_TRIALS and models[-3:] == ["linear"] * 3, "knn dropped once judged"


# -- starting points ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_families_starting_point_encodes_to_trial_params_that_decode_back(task):
    specs = [spec.for_task(task) for spec in models_named(["all"]) if task in spec.tasks]
    space = SearchSpace(specs)
    for spec in space.specs:
        start = spec.start()
        assert space.decode(space.encode(spec, start)) == (spec, start)


def test_the_starting_points_are_scikit_learns_defaults_where_they_differ_from_the_declared_ones():
    forest, = models_named(["random-forest"])
    assert forest.start()["n_estimators"] == 100 and forest.start()["max_depth"] is None
    assert forest.resolve()["n_estimators"] != 100, "the declared default (search run's) is not changed"


def _tried(study: optuna.Study, space: SearchSpace, n_trials: int, n_jobs: int = 1) -> list:
    def objective(trial: optuna.trial.Trial) -> float:
        _, params = space.sample(trial)
        return float(len(str(params)))

    study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs)
    return [space.decode(trial.params) for trial in study.trials]


def test_a_new_study_starts_from_each_familys_starting_point_and_a_resume_does_not_again(workdir):
    config = StudyConfig(models=("knn", "random-forest", "linear"), n_trials=3, seed=7,
                         storage=f"sqlite:///{workdir / 'optuna.db'}", tracking=f"sqlite:///{workdir / 'mlflow.db'}")
    plan = plan_study(config)
    starts = [(spec, spec.start()) for spec in plan.space.specs]
    study = open_study(plan, optuna.storages.RDBStorage(config.storage.url))
    assert _tried(study, plan.space, 4)[:3] == starts
    resumed = open_study(plan, optuna.storages.RDBStorage(config.storage.url))
    assert all(tried not in starts for tried in _tried(resumed, plan.space, 3)[4:]), "each start tried once"


def test_threads_sharing_a_sqlite_study_each_take_their_own_starting_point(workdir):
    """Queued (WAITING) trials were taken by two threads at once on SQLite: both ran trial 0."""
    config = StudyConfig(models=("all",), n_trials=3, seed=7, n_jobs=2, storage=f"sqlite:///{workdir / 'optuna.db'}",
                         tracking=f"sqlite:///{workdir / 'mlflow.db'}")
    plan = plan_study(config)
    study = open_study(plan, optuna.storages.RDBStorage(config.storage.url))
    tried = _tried(study, plan.space, 10, n_jobs=2)
    starts = [(spec, spec.start()) for spec in plan.space.specs]
    # Each start once; not always in trials 0-4: a thread may create trial 5 before another samples trial 4.
    assert sorted((t for t in tried if t in starts), key=str) == sorted(starts, key=str) and len(tried) == 10
    said = sorted(t.system_attrs[START_ATTRIBUTE_KEY] for t in study.trials if START_ATTRIBUTE_KEY in t.system_attrs)
    assert said == list(range(len(starts)))


# -- the delivered model: scored on the held-out split, then fitted on every row --------------------------------


@pytest.mark.parametrize("refit_all_rows", [True, False])
def test_the_delivered_model_is_scored_held_out_then_fitted_on_every_row_unless_asked(refit_all_rows):
    from search.data import DataSpec
    from search.evaluation import Scoring, deliverable_fit

    data = DataSpec().load()
    knn, = models_named(["knn"])
    pipeline = knn.build({"n_neighbors": 3}, 0, data.columns)
    model, metrics = deliverable_fit(pipeline, data, Scoring("accuracy"), refit_all_rows=refit_all_rows)
    held_out = pipeline.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    assert metrics["test_accuracy"] == pytest.approx(held_out) == pytest.approx(0.936), "the prototype's figure"
    assert model[-1].n_samples_fit_ == (data.n_samples if refit_all_rows else len(data.y_train))


def test_a_commands_choice_of_rows_is_recorded_for_the_sync_that_delivers_later(workdir):
    config = StudyConfig(models=("knn",), refit_all_rows=False, storage=f"sqlite:///{workdir / 'optuna.db'}",
                         tracking=f"sqlite:///{workdir / 'mlflow.db'}")
    assert plan_study(config).stretch()["refit_all_rows"] is False


def test_workers_sharing_a_study_take_each_start_once(workdir):
    """Each worker has its own sampler: a trial says which start it takes before it draws, so none is run twice."""
    config = StudyConfig(models=("knn", "linear"), n_trials=3, seed=7, storage=f"sqlite:///{workdir / 'optuna.db'}",
                         tracking=f"sqlite:///{workdir / 'mlflow.db'}")
    plan = plan_study(config)
    first, second = (open_study(plan, optuna.storages.RDBStorage(config.storage.url), slot) for slot in (0, 1))
    one, other = first.ask(), second.ask()  # both running, neither has drawn a parameter yet
    space = plan.space
    assert {space.sample(one)[0].name, space.sample(other)[0].name} == {"knn", "linear"}
