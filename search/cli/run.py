"""``search run MODEL --<param> VALUE``: one fixed-parameter run, options made from the model's declaration.

Each model becomes a sub-command when it is asked for, so listing or helping
one model never imports scikit-learn or MLflow, nor loads every plugin.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from models import ModelSpec, Param, ParamError
from search import defaults
from search.cli import options as opt
from search.cli.usage import PlainUsage
from search.data import DataSpec
from search.evaluation import Scoring
from search.plugins import get_model, registered_models
from search.single_run import run_once

if TYPE_CHECKING:
    from typer._click.formatting import HelpFormatter

Seed = Annotated[int | None, typer.Option("--seed", help="Seed of the estimator (default: drawn, and logged).")]
RunsExperiment = Annotated[
    str | None, typer.Option("--experiment", help="MLflow experiment (default: <model>-runs, apart from studies).")
]
LogModel = Annotated[bool, typer.Option("--log-model/--no-log-model", help="Log the fitted model.")]


class RunGroup(TyperGroup):
    """The ``run`` command: one sub-command per registered model, built on demand."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(registered_models())

    def get_command(self, ctx: typer.Context, name: str) -> TyperCommand:
        return _model_command(get_model(name))  # an unknown name raises UnknownModelError

    def format_commands(self, ctx: typer.Context, formatter: HelpFormatter) -> None:
        rows = [(", ".join(spec.names), spec.summary) for spec in registered_models().values()]
        with formatter.section("Models (and their aliases)"):
            formatter.write_dl(rows)


def _options(spec: ModelSpec) -> list[tuple[Param, list[Param]]]:
    """One option per parameter name; a name declared per task (``criterion``) is one option for both."""
    by_name: dict[str, list[Param]] = {}
    for param in spec.params:
        by_name.setdefault(param.name, []).append(param)
    return [(variants[0], variants) for variants in by_name.values()]


def _parser(param: Param, *, per_task: bool = False):
    def parse(text: Any) -> Any:
        if not isinstance(text, str) or per_task:  # the unset default; or checked once the task is known
            return text
        try:
            return param.parse(text)
        except ParamError as error:
            raise typer.BadParameter(str(error)) from None

    return parse


def _metavar(param: Param) -> str:
    labels = getattr(param, "labels", None)
    if labels is not None:
        return "[" + "|".join(labels()) + "]"
    return type(param).__name__.upper() + ("|none" if getattr(param, "nullable", False) else "")


def _help(variants: list[Param]) -> str:
    param = variants[0]
    text = param.help
    for variant in variants:
        default = "none" if variant.default is None else variant.default
        task = f" For {variant.task}:" if variant.task else ""
        text += f"{task} Allowed: {variant.allowed()}. Default: {default}."
    return text + (f" Only when {param.condition()}." if param.when else "")


def _model_command(spec: ModelSpec) -> TyperCommand:
    """A Typer command whose options are the model's declared parameters, then the common ones."""

    def command(ctx: typer.Context, **values: Any) -> None:
        # Only what the user typed: the declaration fills in defaults, and knows which parameters apply.
        given = {p.name: value for p, _ in _options(spec) if (value := values.pop(p.name)) is not None
                 or getattr(ctx.get_parameter_source(p.name), "name", None) == "COMMANDLINE"}
        outcome = run_once(
            spec,
            given,
            data=DataSpec(values.pop("data"), values.pop("target"), values.pop("test_size"), values.pop("split_seed"),
                          values.pop("task")),
            scoring=Scoring(values.pop("metric"), values.pop("cv")),
            **values,
        )
        print(f"Logged run {outcome.run_id} (experiment id {outcome.experiment_id}) for {spec.name}: "
              + ", ".join(f"{k}={v}" for k, v in outcome.params.items()) + f"; seed {outcome.seed}")
        for name in sorted(outcome.metrics):
            print(f"  {name} = {outcome.metrics[name]:.4f}")
        if outcome.registration is not None:
            print(f"Registry: {outcome.registration.describe()}")

    model_options = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                Any, typer.Option(p.option, parser=_parser(p, per_task=len(variants) > 1),
                                  metavar=_metavar(p) if len(variants) == 1 else "TEXT", help=_help(variants),
                                  show_default=False)
            ],
        )
        for p, variants in _options(spec)
    ]
    common = [
        ("data", opt.Data, defaults.DATA),
        ("target", opt.Target, None),
        ("task", opt.TaskOption, None),
        ("test_size", opt.TestSize, defaults.TEST_SIZE),
        ("split_seed", opt.SplitSeed, defaults.SPLIT_SEED),
        ("metric", opt.Metric, None),
        ("cv", opt.Folds, defaults.CV_FOLDS),
        ("seed", Seed, None),
        ("tracking", opt.TrackingUri, None),
        ("experiment", RunsExperiment, None),
        ("log_model", LogModel, defaults.LOG_MODEL),
        ("register", opt.Register, None),
    ]
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    keyword = inspect.Parameter.KEYWORD_ONLY
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [context, *model_options, *(inspect.Parameter(n, keyword, default=d, annotation=a) for n, a, d in common)]
    )
    command.__doc__ = f"Fit {spec.summary or spec.name} once with the given parameters and log it to MLflow."
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name=spec.name, cls=PlainUsage)(command)
    return typer.main.get_command(app)


run_app = typer.Typer(
    cls=RunGroup,
    help="Fit a model once with fixed parameters; log it to MLflow.\n\n"
    "Parameters not given take the model's defaults (see 'search run MODEL --help').",
    no_args_is_help=True,
)
