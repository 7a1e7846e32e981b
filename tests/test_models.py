"""Model declarations: one declaration gives defaults, the search space and validation."""

import optuna
import pytest

from models import Categorical, Int, ModelSpec, ParamError, SearchSpace
from models.knn import MODEL as KNN
from models.random_forest import MODEL as RF


def test_defaults_match_the_original_scripts():
    assert KNN.resolve()["n_neighbors"] == 5
    assert RF.resolve()["max_depth"] == 3
    assert RF.resolve()["n_estimators"] == 20


def test_resolve_fills_defaults_and_keeps_given_values():
    assert KNN.resolve({"n_neighbors": 3}) == {"n_neighbors": 3, "weights": "uniform", "p": 2}


@pytest.mark.parametrize(
    ("spec", "given", "message"),
    [
        (KNN, {"n_neighbors": 0}, "n_neighbors must be an integer >= 1, got 0"),
        (KNN, {"n_neighbors": "many"}, "n_neighbors must be an integer >= 1, got 'many'"),
        (KNN, {"n_neighbors": 2.5}, "n_neighbors must be an integer"),
        (KNN, {"weights": "heavy"}, "weights must be one of uniform, distance, got 'heavy'"),
        (RF, {"min_samples_split": 1}, "min_samples_split must be an integer >= 2"),
        (KNN, {"leaf": 3}, "model 'knn' has no parameter 'leaf'"),
    ],
)
def test_bad_values_are_refused_with_the_parameter_named(spec, given, message):
    with pytest.raises(ParamError, match=message):
        spec.resolve(given)


def test_parse_accepts_cli_text_including_none_for_nullable_parameters():
    max_depth = next(p for p in RF.params if p.name == "max_depth")
    assert max_depth.parse("7") == 7
    assert max_depth.parse("none") is None
    max_features = next(p for p in RF.params if p.name == "max_features")
    assert max_features.parse("None") is None
    p = next(p for p in KNN.params if p.name == "p")
    assert p.parse("1") == 1


def test_search_space_is_wide_and_every_sample_is_valid():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    samples = []

    space = SearchSpace([RF])

    def objective(trial):
        _, params = space.sample(trial)
        RF.resolve(params)  # every drawn configuration passes validation
        samples.append(params)
        return 0.0

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=200)
    estimators = [s["n_estimators"] for s in samples]
    assert min(estimators) >= 10 and max(estimators) <= 500 and max(estimators) > 200
    depths = [s["max_depth"] for s in samples]
    assert None in depths and any(d is not None and d >= 16 for d in depths)
    assert {s["criterion"] for s in samples} == {"gini", "entropy", "log_loss"}


def test_decode_undoes_the_nullable_encoding():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    space = SearchSpace([RF])
    for _ in range(20):
        trial = study.ask()
        spec, params = space.sample(trial)
        assert space.decode(trial.params) == (spec, params)
        assert not any(name.endswith("_is_none") for name in params)


def test_build_makes_a_preparation_then_estimator_pipeline_with_the_seed():
    pipeline = RF.build(RF.resolve(), seed=7)
    assert [name for name, _ in pipeline.steps] == ["prepare", "model"]
    assert pipeline.steps[0][1] == "passthrough", "a forest needs no scaling"
    assert type(KNN.build(KNN.resolve()).steps[0][1]).__name__ == "StandardScaler", "kNN measures distances"
    assert pipeline.named_steps["model"].random_state == 7
    assert pipeline.named_steps["model"].max_depth == 3


def test_a_declaration_with_a_default_outside_its_constraints_is_rejected():
    with pytest.raises(ParamError):
        Int("k", default=0, search=(1, 5), minimum=1)
    with pytest.raises(ValueError):
        Categorical("c", default="x", choices=("a", "b"))
    with pytest.raises(ValueError):
        ModelSpec(name="m", estimator="a:b", params=(Int("k", 1, (1, 2)), Int("k", 1, (1, 2))))


def _conditional_model() -> ModelSpec:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "plugin_example"))
    from tiny_plugin import SVC

    return SVC


def test_conditional_parameters_are_searched_only_where_they_apply():
    svc = _conditional_model()
    space = SearchSpace([svc])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        _, params = space.sample(trial)
        kernel = params["kernel"]
        seen.add(kernel)
        assert ("gamma" in params) == (kernel in ("rbf", "poly")), params
        assert ("degree" in params) == (kernel == "poly"), params
        assert set(trial.params) == set(params), "Optuna sees only the active dimensions"
        svc.build(params)  # every drawn configuration makes an estimator
    assert seen == {"linear", "rbf", "poly"}


def test_a_conditional_parameter_given_where_it_does_not_apply_is_refused():
    svc = _conditional_model()
    assert "degree" not in svc.resolve({"kernel": "rbf"})
    assert svc.resolve({"kernel": "poly", "degree": 4})["degree"] == 4
    with pytest.raises(ParamError, match="degree applies only when kernel is poly"):
        svc.resolve({"kernel": "linear", "degree": 4})


def test_a_condition_must_name_an_earlier_categorical_parameter():
    with pytest.raises(ValueError, match="must be a categorical parameter declared before it"):
        ModelSpec(name="m", estimator="a:b", params=(Int("k", 1, (1, 2), when={"mode": ("a",)}),))
    with pytest.raises(ValueError, match="not one of its choices"):
        ModelSpec(name="m", estimator="a:b", params=(
            Categorical("mode", "a", choices=("a", "b")), Int("k", 1, (1, 2), when={"mode": ("c",)}),
        ))


def test_several_models_are_one_space_whatever_order_they_are_given_in():
    forward, backward = SearchSpace([KNN, RF]), SearchSpace([RF, KNN])
    assert [d.name for d in forward.dimensions] == [d.name for d in backward.dimensions]
    assert forward.dimensions[0].name == "model"
    assert all(d.when[0] == ("model", ("knn",)) for d in forward.dimensions if d.name.startswith("knn__"))


def test_a_several_model_space_pickles_for_spawned_workers():
    import pickle

    space = SearchSpace([KNN, RF])
    copy = pickle.loads(pickle.dumps(space))
    dimensions = [(d.name, d.distribution()) for d in space.dimensions]
    assert [(d.name, d.distribution()) for d in copy.dimensions] == dimensions
