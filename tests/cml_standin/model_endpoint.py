"""STAND-IN for a deployed CML model's endpoint, for the rehearsal tests only.

CML's model runtime imports the build's target file once, then for each
``POST /model`` with ``{"accessKey": ..., "request": {...}}`` calls the target
function with the request and answers ``{"success": true, "response": <what it
returned>}``. This does the same in a real local process, with the project's
environment, so a test (or the README's curl example) can call the model as a
client of CML would:

    python tests/cml_standin/model_endpoint.py PROJECT_ROOT TARGET_FILE FUNCTION PORT ACCESS_KEY
"""

from __future__ import annotations

import importlib.util
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def load_function(root: Path, target_file: str, function: str):
    """The target function, imported from the project file as the runtime does (once, at start)."""
    path = root / target_file
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)


def serve(root: Path, target_file: str, function: str, port: int, access_key: str) -> None:
    target = load_function(root, target_file, function)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/model":
                return self._answer(404, {"success": False, "message": "not found"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            except json.JSONDecodeError:
                return self._answer(400, {"success": False, "message": "the body is not JSON"})
            if not isinstance(body, dict) or body.get("accessKey") != access_key:
                return self._answer(401, {"success": False, "message": "wrong or missing accessKey"})
            self._answer(200, {"success": True, "response": target(body.get("request"))})

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"model endpoint: http://127.0.0.1:{port}/model", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    root, target_file, function, port, access_key = sys.argv[1:6]
    serve(Path(root), target_file, function, int(port), access_key)
