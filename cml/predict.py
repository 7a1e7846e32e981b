"""CML model: the project's champion answers prediction requests.

The AMP builds and deploys this file as a CML model (``.project-metadata.yaml``).
CML's model runtime imports it once and calls `predict` with each request's JSON
body; what `predict` returns goes back as JSON:

    request   {"features": [[0.12, -1.3, ...], ...]}          each row in the model's column order
          or  {"records": [{"feature_0": 0.12, ...}, ...]}    (or the list of records itself)
    response  {"predictions": [1, 0], "classes": [0, 1], "probabilities": [[0.1, 0.9], [0.8, 0.2]],
               "model": "search-champion version 3 (champion)"}

A bad request gets ``{"error": "<one line>"}``, never a stack trace. The model
is ``models:/$SEARCH_REGISTER@champion`` as the study job exported it into the
project (``champion/``, see ``champion.py``), which the model's build copies: a
build cannot read the project's own ``mlflow.db``, which ``.gitignore`` keeps
out of it. With no export, a store the build can reach (SEARCH_TRACKING_URI
naming a tracking server or a database server) is read instead. It is loaded
on the first request, in the safe skops format only, and kept for the life of
the process: to serve a newer champion, run the study job, then deploy the
model again (a new build).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the runtime imports this file from anywhere

import champion as export
import project
import studies
from search.deliverable.champion import ALIAS
from search.deliverable.loading import UnsafeModelError
from search.deliverable.predictions import REQUEST_FORMS, LoadedModel, load_model, predict_request
from search.errors import InputError
from search.stores.tracking_store import quiet_mlflow
from search.stores.urls import Kind, Store
from search.text import one_line, squeeze


def predict(args: Any) -> dict[str, Any]:
    """The champion's predictions for the rows of ``args`` (the request's JSON body)."""
    try:
        if isinstance(args, (str, bytes)):  # a body sent as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise InputError(f"the request is text, not JSON: {REQUEST_FORMS}") from None
            except ValueError as error:  # a number of over 4,300 digits
                raise InputError(f"the request holds a value this model cannot read: {one_line(error)}") from None
        model, label = champion()
        answer = predict_request(model, args)
    except UnsafeModelError as error:  # the project's to fix, not the caller's: no CLI option to tell them
        print(f"predict: {one_line(error)}", file=sys.stderr, flush=True)
        return {"error": "the champion cannot be served: it is stored in a way that could run code when loaded "
                         "(the model's log says how); register a model that search logged"}
    except (InputError, project.SettingError) as error:  # the caller's to fix: their message, as is
        return {"error": squeeze(str(error))}
    except RecursionError:  # JSON nested thousands deep: a bad request, not a fault of the model
        return {"error": f"the request nests its values too deeply: {REQUEST_FORMS}"}
    except Exception as error:  # still an answer: the caller gets one line, the model's log the kind
        print(f"predict: {type(error).__name__}: {one_line(error)}", file=sys.stderr, flush=True)
        return {"error": f"the model could not answer: {one_line(error)}"}
    return {**answer, "model": label}


@functools.cache
def champion() -> tuple[LoadedModel, str]:
    """The registered model's champion and how to name it, loaded once (a failure is retried next request)."""
    quiet_mlflow()
    root = project.project_root(__file__)
    name = project.register()
    if name is None:
        raise project.SettingError("SEARCH_REGISTER is blank: set it to the registered model the studies register")
    found = export.exported(root)
    if found is not None and found.name == name:
        return load_model(str(found.model)), found.label
    tracking = studies.tracking(root)
    if tracking.kind in (Kind.server, Kind.database) or (tracking.path is not None and tracking.path.exists()):
        return _registered(tracking, name)
    raise InputError(f"this model's build holds no champion of {name!r}: run the study job (it exports the "
                     "champion into the project), then deploy the model again")


def _registered(tracking: Store, name: str) -> tuple[LoadedModel, str]:
    """The champion read from the registry of a store this process can reach."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking.url)
    try:
        version = MlflowClient(tracking.url).get_model_version_by_alias(name, ALIAS).version
    except MlflowException:
        raise InputError(f"registered model {name!r} has no {ALIAS} yet: run the study job first") from None
    return load_model(f"models:/{name}/{version}"), f"{name} version {version} ({ALIAS})"
