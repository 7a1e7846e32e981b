"""CML model: the project's champion answers prediction requests.

The AMP builds and deploys this file as a CML model (``.project-metadata.yaml``).
CML's model runtime imports it once and calls `predict` with each request's JSON
body; what `predict` returns goes back as JSON:

    request   {"features": [[0.12, -1.3, ...], ...]}          each row in the model's column order
          or  {"records": [{"feature_0": 0.12, ...}, ...]}    (or the list of records itself)
    response  {"predictions": [1, 0], "classes": [0, 1], "probabilities": [[0.1, 0.9], [0.8, 0.2]],
               "model": "search-champion version 3 (champion)"}

A bad request gets ``{"error": "<one line>"}``, never a stack trace. The model
is ``models:/$SEARCH_REGISTER@champion`` in the project's MLflow store
(SEARCH_TRACKING_URI, blank: the project's own), loaded on the first request
and kept for the life of the process: deploy the model again to serve a newer
champion.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the runtime imports this file from anywhere

import project

ALIAS = "champion"


def predict(args: Any) -> dict[str, Any]:
    """The champion's predictions for the rows of ``args`` (the request's JSON body)."""
    from search.errors import InputError
    from search.predict import REQUEST_FORMS, predict_request
    from search.tracking import one_line

    try:
        if isinstance(args, (str, bytes)):  # a body sent as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise InputError(f"the request is text, not JSON: {REQUEST_FORMS}") from None
        model, label = champion()
        answer = predict_request(model, args)
    except (InputError, project.SettingError) as error:  # the caller's to fix: their message, as is
        return {"error": " ".join(str(error).split())}
    except Exception as error:  # still an answer: the caller gets one line, the model's log the kind
        print(f"predict: {type(error).__name__}: {one_line(error)}", file=sys.stderr, flush=True)
        return {"error": f"the model could not answer: {one_line(error)}"}
    return {**answer, "model": label}


@functools.cache
def champion() -> tuple[Any, str]:
    """The registered model's champion and how to name it, loaded once (a failure is retried next request)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from search.errors import InputError
    from search.predict import load_model
    from search.stores.mlflow import quiet_mlflow

    quiet_mlflow()
    root = project.project_root(__file__)
    tracking_uri = project.tracking_uri(root)
    name = project.register()
    if name is None:
        raise project.SettingError("SEARCH_REGISTER is blank: set it to the registered model the studies register")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        version = MlflowClient(tracking_uri).get_model_version_by_alias(name, ALIAS).version
    except MlflowException:
        raise InputError(f"registered model {name!r} has no {ALIAS} yet: run the study job first") from None
    return load_model(f"models:/{name}/{version}"), f"{name} version {version} ({ALIAS})"
