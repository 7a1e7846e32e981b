"""``search run MODEL --<param> VALUE``: one fixed-parameter run, options made from the model's declaration.

Each model becomes a sub-command when it is asked for, so listing or helping
one model never imports scikit-learn or MLflow, nor loads every plugin.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from models import Param, ParamError
from search.cli import _options as opt


class RunGroup(TyperGroup):
    """The ``run`` command: one sub-command per registered model, built on demand."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        from search.registry import registered_models

        return list(registered_models())

    def get_command(self, ctx: typer.Context, name: str) -> Any:
        from search.registry import get_model

        return _model_command(get_model(name))  # an unknown name raises UnknownModelError

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        from search.registry import registered_models

        rows = [(spec.name, spec.summary) for spec in registered_models().values()]
        with formatter.section("Models"):
            formatter.write_dl(rows)


def _parser(param: Param):
    def parse(text: Any) -> Any:
        if not isinstance(text, str):  # a default, already valid
            return text
        try:
            return param.parse(text)
        except ParamError as error:
            raise typer.BadParameter(str(error)) from None

    return parse


def _metavar(param: Param) -> str:
    choices = getattr(param, "choices", None)
    if choices is not None:
        return "[" + "|".join("none" if c is None else str(c) for c in choices) + "]"
    return type(param).__name__.upper() + ("|none" if getattr(param, "nullable", False) else "")


def _model_command(spec) -> Any:
    """A Typer command whose options are the model's declared parameters, then the common ones."""

    def command(**values: Any) -> None:
        from search.single_run import run_once

        params = {p.name: values.pop(p.name) for p in spec.params}
        outcome = run_once(spec, params, **values)
        print(f"Logged run {outcome.run_id} (experiment id {outcome.experiment_id}) for {spec.name}: "
              + ", ".join(f"{k}={v}" for k, v in outcome.params.items()))
        for name in sorted(outcome.metrics):
            print(f"  {name} = {outcome.metrics[name]:.4f}")

    model_options = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=p.default,
            annotation=Annotated[
                Any,
                typer.Option(
                    p.option, parser=_parser(p), metavar=_metavar(p), help=f"{p.help} Allowed: {p.allowed()}.",
                    rich_help_panel=f"{spec.name} parameters",
                ),
            ],
        )
        for p in spec.params
    ]
    common = [
        ("data", opt.Data, "synthetic"), ("target", opt.Target, None), ("test_size", opt.TestSize, 0.25),
        ("split_seed", opt.SplitSeed, 123), ("metric", opt.Metric, "accuracy"), ("cv", opt.Folds, 5),
        ("seed", opt.Seed, None), ("tracking_uri", opt.TrackingUri, None), ("experiment", opt.Experiment, None),
        ("log_model", Annotated[bool, typer.Option("--log-model/--no-log-model", help="Log the fitted model.")], True),
    ]
    command.__signature__ = inspect.Signature(
        model_options + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a) for n, a, d in common]
    )
    command.__doc__ = f"Fit {spec.summary or spec.name} once with the given parameters and log it to MLflow."
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name=spec.name)(command)
    return typer.main.get_command(app)


run_app = typer.Typer(
    cls=RunGroup,
    help="Fit one model once with fixed parameters (unspecified ones take the defaults) and log it to MLflow.",
    no_args_is_help=True,
)
