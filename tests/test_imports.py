"""The import graph stays layered: no import circles, and every module imports only its own layer or below.

Layers, top to bottom: the flows/ folder, then the command line and the demo tools, then `pipeline` (the
stages in order), then the stage packages, then the base (warehouse, run ledger, settings). An import
inside a function counts as much as one at the top: a circle hidden in a function is still a circle. Only
imports under `if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# A module's layer is that of its first name below segmint: `segmint.segment.run` is in "segment".
LAYERS: dict[str, int] = {
    **dict.fromkeys(["flows"], 4),
    **dict.fromkeys(["cli", "serve", "status", "doctor", "scaffold", "entrypoints", "synth"], 3),
    **dict.fromkeys(["pipeline", "run_artifacts"], 2),
    **dict.fromkeys(["ingest", "quality", "features", "segment", "predict", "campaigns", "report"], 1),
    **dict.fromkeys(
        [
            "segmint",  # the package itself: its version
            "contract",
            "warehouse",
            "runs",
            "config",
            "errors",
            "machine",
            "resources",
            "redact",
            "words",
            "currency",
            "mail",
            "schema",
            "prefect_env",
        ],
        0,
    ),
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.joinpath("segmint").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in ROOT.joinpath("flows").glob("*.py"):
        modules[f"flows.{path.stem}"] = path
    return modules


MODULES = _modules()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }


def _imports(name: str, path: Path) -> set[str]:
    """The segmint modules `name` imports (a `from package import module` names the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            candidates = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        else:
            continue
        found |= {c for c in candidates if c in MODULES and c != name}
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "flows" else (parts[1] if len(parts) > 1 else "segmint")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_imports_it_checks() -> None:
    # Guards the test itself: a walk that found nothing would pass every rule below.
    assert "segmint.warehouse" in GRAPH["segmint.pipeline"]
    assert "segmint.segment.run" in GRAPH["segmint.segment"]
    assert "segmint.pipeline" in GRAPH["flows.nightly"]


def test_every_module_has_a_layer() -> None:
    unknown = sorted({_unit(m) for m in MODULES} - LAYERS.keys())
    assert not unknown, f"put {unknown} into a layer in tests/test_imports.py (LAYERS)"


def test_no_import_circles_between_modules() -> None:
    assert not _cycles(GRAPH), f"import circles: {_cycles(GRAPH)}"


def test_no_import_circles_between_stage_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        packages.setdefault(_unit(module), set()).update(
            _unit(i) for i in imported if _unit(i) != _unit(module)
        )
    assert not _cycles(packages), f"packages importing each other: {_cycles(packages)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_only_downward(module: str) -> None:
    layer = LAYERS.get(_unit(module), 0)
    upward = sorted(i for i in GRAPH[module] if LAYERS.get(_unit(i), 0) > layer)
    assert not upward, f"{module} (layer {layer}) imports the higher layer's {upward}"


# The report reads what the stages stored and fits nothing: no model, no scaling (issue 12).
NOT_IN_THE_REPORT = ("sklearn", "segmint.segment.scaling")


def _named_imports(path: Path) -> set[str]:
    """Every module an absolute import in `path` names, segmint's or not (`from a import b` names a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in NOT_IN_THE_REPORT))


def test_the_report_check_sees_what_it_forbids() -> None:
    # Guards the check below: segmentation draws the customer map with scikit-learn in its own space.
    found = _forbidden(_named_imports(MODULES["segmint.segment.customer_map"]))
    assert "sklearn.decomposition" in found and "segmint.segment.scaling" in found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[:2] == ["segmint", "report"]))
def test_the_report_imports_no_model_or_scaling(module: str) -> None:
    found = _forbidden(_named_imports(MODULES[module]))
    assert not found, f"{module} imports {found}: the report reads what the stages stored, it fits nothing"
