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

import project

PROG = "install_dependencies"


def main(script: str | None) -> int:
    try:
        root = project.project_root(script)
    except project.SettingError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    install = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-e", str(root)]
    print(f"{PROG}: {' '.join(install)}", flush=True)
    if (code := subprocess.run(install, cwd=root).returncode) != 0:
        print(f"{PROG}: error: pip install failed (exit code {code}); see pip's output above", file=sys.stderr)
        return code
    # A fresh interpreter, as the next job will start: the toolkit imports and its models are registered.
    load = "from search.plugins import get_model; " + "; ".join(f"get_model({m!r})" for m in project.DEFAULT_MODELS)
    if (code := subprocess.run([sys.executable, "-c", load], cwd=root).returncode) != 0:
        print(f"{PROG}: error: {project.DISTRIBUTION} was installed but its models cannot be loaded", file=sys.stderr)
        return code
    print(f"{PROG}: installed {project.DISTRIBUTION} for {sys.executable}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(globals().get("__file__")))
