"""The shape of the code, as the house rules state it (``docs/architecture.md``, "Where things
go"): no import cycles, no upward imports, rooms one folder deep with files a person can read,
and no decision on a role anywhere but the policy table.

These read the source (``ast``), so they hold for code that no test happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "seba"
MAX_LINES = 500
# Data, not code: long by nature (tables a reviewer reads row by row).
LONG_BY_NATURE: frozenset[str] = frozenset()
# What a layer may import from the project. Core knows no domain; domain code below the web
# layer never imports pages, routes or the web package.
WEB_MODULES = ("seba.web", "seba.app", "seba.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    package = base if MODULES[module].name == "__init__.py" else base[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *(node.module.split(".") if node.module else [])])


def _imports(module: str) -> set[str]:
    """Project modules ``module`` imports, at the top or inside functions alike."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        for name in names:
            # The longest project module the name is or lies in.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name.startswith("seba") and name != module:
                found.add(name)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm).

    A package's ``__init__`` importing its own submodules (to assemble a router) is not a
    cycle unless a submodule imports the package back.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read_from_the_source():
    # The reader itself: a known edge is seen, at the top of a module and inside a function.
    assert "seba.core.access" in GRAPH["seba.patients.service"]
    assert "seba.telemedicine.consults.sweep" in GRAPH["seba.notifications.worker"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_core_knows_no_domain():
    upward = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("seba.core")
        for target in targets
        if not target.startswith(("seba.core", "seba.settings"))
    }
    assert upward == set()


def _is_web_layer(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return (
        module.startswith(WEB_MODULES)
        or last in ("api", "pages")
        or last.endswith("_pages")
        or ".pages." in module + "."
    )


def test_domain_code_never_imports_the_web_layer():
    upward = {
        (module, target)
        for module, targets in GRAPH.items()
        if not _is_web_layer(module) and module not in ("seba.demo",)
        for target in targets
        if _is_web_layer(target)
    }
    assert upward == set()


def test_rooms_are_one_folder_deep_and_files_readable():
    too_deep = [m for m in MODULES if m.count(".") > 3]
    assert too_deep == [], "a capability's room is at most seba/<domain>/<room>/<module>.py"
    long_files = {
        module: n
        for module, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and module not in LONG_BY_NATURE
    }
    assert long_files == {}


def _role_decisions(source: str, label: str) -> list[str]:
    """Places that decide on a principal's role: ``x.role`` compared, tested for membership,
    or used to look something up. The policy table module is the one place allowed."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
        ):
            operands = list(node.args[:1])
        for operand in operands:
            if (
                isinstance(operand, ast.Attribute)
                and operand.attr == "role"
                and isinstance(operand.value, ast.Name)
                and operand.value.id in ("actor", "principal", "who", "me", "p")
            ):
                found.append(f"{label}:{node.lineno}")
    return found


def test_no_role_check_outside_the_policy_table():
    decisions = [
        where
        for module, path in MODULES.items()
        if module != "seba.core.access"
        for where in _role_decisions(path.read_text(encoding="utf-8"), module)
    ]
    assert decisions == []


def test_the_role_check_finder_sees_each_kind():
    sample = (
        "def f(actor, principal, table):\n"
        "    a = actor.role == 'cho'\n"
        "    b = principal.role in ('doctor',)\n"
        "    c = table[actor.role]\n"
        "    d = table.get(principal.role)\n"
        "    return user.role == 'x'\n"  # a user row's role being shown is not a decision
    )
    assert _role_decisions(sample, "sample") == [
        "sample:2",
        "sample:3",
        "sample:4",
        "sample:5",
    ]


PACKAGES = sorted(m for m, path in MODULES.items() if path.name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_is(package: str):
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{package} needs a docstring: what lives here"
