"""The layout's promises, checked on the source: arrows point down only, modules stay small, own imports on top.

- No import cycle among our modules (``search``, ``models``, ``cml``), counting
  every import: at the top, inside functions, and for type checking only.
- Our own modules are imported at the top of a file, where a reader sees a
  module's place in the layering; only heavy third-party libraries are
  imported lazily (for ``search --help`` to start at once), and so are our
  modules that extend one of their classes (`HEAVY`).
- No module over `MAX_LINES` lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO

PACKAGES = ("search", "models")
#: The CML scripts import each other by file name, as CML runs them (``import project``).
CML = REPO / "cml"
MAX_LINES = 300
#: Our modules that subclass a heavy library's class at import: imported lazily, like the library.
HEAVY = {
    "search.stores._claiming": "subclasses optuna's JournalStorage",
    "search.study.families": "subclasses optuna's BaseSampler",
    "search.notebook": "the whole study machinery, loaded by `search.__getattr__` when `tune` is first used",
}


def modules() -> dict[str, Path]:
    """Every module of ours by its import name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted(CML.glob("*.py")):
        found[path.stem] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> Iterator[tuple[str, ast.stmt, bool]]:
    """(our module imported, the statement, whether at the top) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in known and target != name:
                yield target, node, id(node) in top or _under_type_checking(tree, node)


def _under_type_checking(tree: ast.Module, node: ast.stmt) -> bool:
    return any(isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING" and node in ast.walk(n)
               for n in tree.body)


def graph() -> dict[str, set[str]]:
    """Each module's imports of ours; importing ``a.b.c`` also runs ``a`` and ``a.b`` (their ``__init__``)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, _, _ in imports(path, name, known):
            parts = target.split(".")
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                if prefix in known and prefix != name and not name.startswith(prefix + "."):
                    edges[name].add(prefix)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_our_modules():
    assert cycles(graph()) == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_our_own_modules_are_imported_at_the_top():
    known = modules()
    inside = [f"{path.relative_to(REPO)}:{node.lineno} imports {target}"
              for name, path in known.items()
              for target, node, at_top in imports(path, name, known) if not at_top and target not in HEAVY]
    assert inside == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_300_lines(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


@pytest.mark.parametrize(("entry", "its_own"), [
    ("search", ("search",)),  # the package's face: `tune` is loaded when first used
    ("search.tracking", ("search", "search.tracking")),  # a library of its own: nothing of the app
    ("search.common", ("search", "search.common")),  # below both: nothing above it
])
def test_an_entry_point_loads_none_of_our_modules_it_does_not_use(entry, its_own):
    """What really runs, not only the source's arrows: a package's __init__ importing a submodule eagerly drags
    it into every import below it."""
    import subprocess
    import sys

    listed = subprocess.run(
        [sys.executable, "-c", f"import sys, {entry}; print(' '.join(m for m in sys.modules "
                               "if m.split('.')[0] in ('search', 'models')))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    loaded = {name for name in listed if name not in its_own and not name.startswith(f"{its_own[-1]}.")}
    assert entry in listed and loaded == set(), f"import {entry} loads {sorted(loaded)}"


def test_search_help_loads_no_command_and_no_heavy_library():
    """``search --help`` pays for Typer and the command list only: each command's module loads when it runs."""
    import subprocess
    import sys

    listed = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom search.cli import main\ntry:\n    main(['--help'])\n"
                               "except SystemExit:\n    pass\nprint(' '.join(sys.modules), file=sys.stderr)"],
        capture_output=True, text=True, check=True,
    ).stderr.split()
    commands = [name for name in listed if name.startswith("search.cli.") and name != "search.cli.usage"]
    heavy = [name for name in ("numpy", "pandas", "sklearn", "optuna", "mlflow", "sqlalchemy") if name in listed]
    assert commands == [] and heavy == [], (commands, heavy)


def test_the_command_list_says_what_each_commands_own_help_says():
    from search.cli import COMMANDS, LazyCommands  # before Typer: it sets how Typer formats help

    group = LazyCommands()
    for name, (_, summary) in COMMANDS.items():
        command = group.get_command(None, name)
        assert (command.help or "").splitlines()[0] == summary, name


def test_the_tracking_librarys_face_gives_every_name_it_lists():
    import search.tracking

    assert sorted(search.tracking.__all__) == sorted(search.tracking._HOMES)
    assert all(getattr(search.tracking, name) is not None for name in search.tracking.__all__)


def test_nothing_outside_the_tracking_library_imports_its_private_names():
    """The app uses `search.tracking`'s public face; what both need lives in `search.common`, below both."""
    known = modules()
    private = [f"{path.relative_to(REPO)}:{node.lineno} imports {target}"
               for name, path in known.items() if not name.startswith("search.tracking")
               for target, node, _ in imports(path, name, known)
               if target.startswith("search.tracking._")]
    assert private == []


def test_the_common_layer_imports_nothing_above_it():
    known = modules()
    above = [f"{path.relative_to(REPO)}:{node.lineno} imports {target}"
             for name, path in known.items() if name.startswith("search.common")
             for target, node, _ in imports(path, name, known)
             if not target.startswith("search.common")]
    assert above == []


def test_the_packages_face_gives_every_name_it_lists():
    import search

    assert sorted(search.__all__) == sorted(search._HOMES)
    assert all(getattr(search, name) is not None for name in search.__all__)
    assert issubclass(search.DataError, search.InputError) and issubclass(search.InputError, search.SearchError)


def test_no_test_imports_conftest():
    """pytest loads conftest itself; a test importing it as a module loads it twice. Shared helpers: support.py."""
    importing = [path.name for path in sorted((REPO / "tests").glob("*.py"))
                 if any(isinstance(node, (ast.Import, ast.ImportFrom))
                        and "conftest" in ([a.name for a in node.names] if isinstance(node, ast.Import)
                                           else [node.module or ""])
                        for node in ast.walk(ast.parse(path.read_text())))]
    assert importing == []
