"""CML job: install the project (the ``search`` toolkit, its models) and its dependencies.

Installs with the interpreter running this script, so the jobs and the
application of the project find what it installed. Editable, so changes made to
the project's code in CML are used by the next job run without reinstalling.
Fails (non-zero exit, one line on stderr) if pip fails or the installed toolkit
cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROG = "install_dependencies"
METADATA_FILE = ".project-metadata.yaml"  # the project root holds it (as search.cml_settings, not installed yet)
DISTRIBUTION = "cml-hyperparameter-search"


def project_root(script: str | None) -> Path:
    start = Path(script).resolve().parent if script else Path.cwd().resolve()
    for directory in (start, *start.parents):
        if (directory / METADATA_FILE).is_file():
            return directory
    raise SystemExit(f"{PROG}: error: no {METADATA_FILE} in {start} or above it: run the script from the project")


def main(script: str | None) -> int:
    root = project_root(script)
    install = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-e", str(root)]
    print(f"{PROG}: {' '.join(install)}", flush=True)
    if (code := subprocess.run(install, cwd=root).returncode) != 0:
        print(f"{PROG}: error: pip install failed (exit code {code}); see pip's output above", file=sys.stderr)
        return code
    # A fresh interpreter, as the next job will start: the toolkit imports and its models are registered.
    load = "from search.registry import get_model; get_model('knn'); get_model('random-forest')"
    check = [sys.executable, "-c", load]
    if (code := subprocess.run(check, cwd=root).returncode) != 0:
        print(f"{PROG}: error: {DISTRIBUTION} was installed but its models cannot be loaded", file=sys.stderr)
        return code
    print(f"{PROG}: installed {DISTRIBUTION} for {sys.executable}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(globals().get("__file__")))
