"""The layout docs/architecture.md describes, checked: one-way imports, no circles, small modules."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "audit"

#: Layers, lowest first: a module may import from its own layer and those below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("audit.contract",),
    (
        "audit.errors",
        "audit.digest",
        "audit.yamlio",
        "audit.safefs",
        "audit.textsafe",
        "audit.names",
        "audit.readonce",
        "audit.jsonio",
        "audit.lazy",
        "audit.storage",
    ),
    (
        "audit.fairness",
        "audit.drift",
        "audit.data",
        "audit.loaders",
        "audit.explain",
        "audit.access",
        "audit.registry",
        "audit.signing",
        "audit.spec",
        "audit.spec_settings",
        "audit.bundles",
    ),
    ("audit.engine",),
    ("audit.policy",),
    ("audit.report",),
    ("audit.runner",),
    ("audit.pipeline",),
    ("audit.cli", "audit.serve", "audit.__main__"),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The audit modules ``path`` imports (relative imports resolved), at any depth in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "audit":  # from audit import contract
                found.update(f"audit.{a.name}" for a in node.names)
            elif target.startswith("audit."):
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("audit."))
    return found


def _layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py: add it")


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(path):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]  # a name imported from a module
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def test_imports_only_go_down_the_layers() -> None:
    upward = [
        f"{a} -> {b}"
        for a, targets in _graph().items()
        if a != "audit"
        for b in targets
        if b != "audit" and _layer(b) > _layer(a)
    ]
    assert upward == []


def test_the_contract_imports_nothing_else_from_audit() -> None:
    outside = {
        f"{a} -> {b}"
        for a, targets in _graph().items()
        if a.startswith("audit.contract")
        for b in targets
        if not b.startswith("audit.contract")
    }
    assert outside == set()


def test_no_import_circles() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a circle of logic
    edges = {
        a: {b for b in targets if not (a == b.rsplit(".", 1)[0] or b == a.rsplit(".", 1)[0])}
        for a, targets in graph.items()
    }
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_modules_stay_small() -> None:
    too_long = {}
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text("utf-8").splitlines())
        limit = 300 if "cli" in path.relative_to(PACKAGE).parts[:1] else 600
        if lines > limit:
            too_long[str(path.relative_to(ROOT))] = lines
    assert too_long == {}


def _third_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_fairlearn_and_no_private_apis_of_other_libraries() -> None:
    """fairlearn is the tests' oracle, not a dependency of the engine; and no module reaches
    into another library's private names (``joblib.x._private``), which break without notice."""
    offending = {}
    for path in PACKAGE.rglob("*.py"):
        bad = sorted(
            name
            for name in _third_party_imports(path)
            if not name.startswith("audit")
            and (
                name.split(".")[0] == "fairlearn"
                or any(part.startswith("_") and part != "__future__" for part in name.split("."))
            )
        )
        if bad:
            offending[str(path.relative_to(ROOT))] = bad
    assert offending == {}
