"""The layout's invariants: no import circles between packages, nothing importing upward.

Read from the source (``ast``), not by importing, so the test sees lazy imports too (only
``if TYPE_CHECKING:`` blocks are left out). The layers are the ones ``docs/architecture.md``
draws; a change to the structure changes both.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module may import its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("orchestrator.exceptions", "orchestrator.types", "orchestrator.text", "orchestrator.redact"),
    (
        "orchestrator.usage",
        "orchestrator.limits",
        "orchestrator.events",
        "orchestrator.result",
        "orchestrator._sync",
        "orchestrator._deadline",
        "orchestrator.telemetry",
    ),
    ("orchestrator.models",),
    ("orchestrator.schema",),
    ("orchestrator.config",),
    ("orchestrator.graph",),
    ("orchestrator.runlog",),
    ("tools",),
    ("agents",),
    (
        "orchestrator.pipeline",
        "orchestrator.run_stream",
        "orchestrator.loader",
        "orchestrator._companions",
        "orchestrator.integrations.mcp_client",
        "orchestrator.integrations.mcp_loading",
        "orchestrator.integrations._pdeathsig",
    ),
    (
        "orchestrator.evaluation",
        "orchestrator.cli",
        "orchestrator.capacity",
        "orchestrator.integrations.mcp_serve",
        "orchestrator.integrations.langgraph_app",
        "orchestrator.integrations",
        "orchestrator.ui",
        "orchestrator.batch",
    ),
]


def _unit(module: str) -> str:
    """The unit a module belongs to: the longest unit named in LAYERS that contains it."""
    found = [u for layer in LAYERS for u in layer if module == u or module.startswith(u + ".")]
    return max(found, key=len) if found else module


def _layer(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS and docs/architecture.md")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in ("orchestrator", "agents", "tools"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
    return {f for f in found if f.split(".")[0] in ("orchestrator", "agents", "tools")}


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in _modules().items():
        if module == "orchestrator":  # the lazy public facade (PEP 562) imports on demand
            continue
        src = _unit(module)
        for target in _imports(path, module):
            if target == "orchestrator":
                continue
            dst = _unit(target)
            if dst != src:
                edges.setdefault(src, set()).add(dst)
    return edges


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return False


def test_nothing_imports_upward() -> None:
    upward = [
        f"{src} -> {dst}"
        for src, targets in _edges().items()
        for dst in targets
        if _layer(dst) > _layer(src)
    ]
    assert upward == []


def test_no_import_circles_between_units() -> None:
    edges = _edges()

    circles = sorted(
        f"{a} <-> {b}" for a, targets in edges.items() for b in targets if _reaches(edges, b, a)
    )
    assert circles == []


def test_no_circles_inside_the_evaluation_package() -> None:
    modules = {m: p for m, p in _modules().items() if m.startswith("orchestrator.evaluation.")}
    graph = {m: {t for t in _imports(p, m) if t in modules} for m, p in modules.items()}

    assert sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if _reaches(graph, b, a)) == []
