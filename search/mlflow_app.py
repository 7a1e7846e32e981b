"""The MLflow UI as ``search ui`` and the CML application serve it: MLflow's own app, landing on the runs.

MLflow 3 opens an experiment on its GenAI overview ("Traces 0") unless the
address asks for ``workflowType=machine_learning`` or the visitor chose "Model
training" before (the UI keeps that choice in the browser's local storage).
A first-time visitor of the root therefore gets a tiny page that makes
"Model training" their choice, unless they already made one, and forwards to
the experiments list; every other address is MLflow's, behind its own
``--allowed-hosts`` check. Loaded by ``mlflow server --app-name search-ui``
through the ``mlflow.app`` entry point (see pyproject.toml).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from flask import Flask, Response

#: Where the root forwards to (the part after ``#`` never reaches a server: the page's script follows it).
LANDING = "/?view=training#/experiments?workflowType=machine_learning"
#: MLflow's local-storage key for the visitor's choice of view, and the value for the training runs.
VIEW_KEY, VIEW_VALUE = "mlflow.workflowType_v1", '"machine_learning"'

_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>MLflow</title>
<script>
try {{ if (localStorage.getItem('{VIEW_KEY}') === null) localStorage.setItem('{VIEW_KEY}', '{VIEW_VALUE}'); }}
catch (e) {{}}
location.replace('{LANDING}');
</script></head>
<body><a href="{LANDING}">Open the MLflow UI</a></body></html>
"""


def _landing() -> Response | None:
    from flask import Response, request

    if request.method in ("GET", "HEAD") and request.path == "/" and not request.query_string:
        return Response(_PAGE, mimetype="text/html", headers={"Cache-Control": "no-store"})
    return None


def create_app() -> Flask | FastAPI:
    """MLflow's server app with the landing page, wrapped the way ``mlflow server`` wraps its own."""
    from mlflow.server import app as flask_app

    if _landing not in flask_app.before_request_funcs.get(None, []):
        flask_app.before_request(_landing)
    if os.environ.get("_MLFLOW_SGI_NAME", "uvicorn") == "uvicorn":  # set by `mlflow server` for its workers
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(flask_app)  # its routes, and its Host, CORS and security checks
    return flask_app
