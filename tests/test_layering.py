"""The package layering of CONTRIBUTING.md, checked on the source: a wrong import fails the suite.

The rules are data (`LAYERS`, below), read by one checker that runs over every module of `edge/`
and over a planted module that breaks each rule, so a checker that misses an import fails too:

- stages (ingest, infer, track, scene, cases, delivery, zones, config) never import the wiring
  (runtime), the operator API or the CLI: they are used by them, not the other way round;
- the runtime never imports the API or the CLI (metrics and the zone store live outside it);
- nobody imports another package's private modules or names (`_something`);
- the API uses the case stage through `edge.cases` only (its public interface).
A package's `__main__.py` (a `python -m edge.x` entry point into the CLI) is not a stage module.

Two structural goals are checked the same way, each with a planted case it must catch:
- no import circle between modules of `edge/` (the imports a module runs when it loads; those in
  functions or under `if TYPE_CHECKING:` do not take part);
- no file in `edge/` over `MAX_LINES` lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[1] / "edge"
STAGES = ("ingest", "infer", "track", "scene", "cases", "delivery", "zones", "config")


@dataclass(frozen=True)
class Layer:
    """Modules of the `importers` packages must not import modules under any of `forbidden` (prefixes)."""

    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str


LAYERS = (
    Layer(
        tuple(f"edge.{s}" for s in STAGES),
        ("edge.runtime", "edge.api", "edge.cli", "edge.evaluate", "edge.receiver"),
        "a stage imports the wiring or a front end",
    ),
    Layer(("edge.runtime",), ("edge.api", "edge.cli"), "the runtime imports a front end"),
    Layer(("edge.api",), ("edge.cases.",), "the API reaches into the case stage: use edge.cases"),
)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every `import` / `from ... import` in a file, type-checking ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


def package_of(path: Path, root: Path = EDGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:2])


def problems(path: Path, root: Path = EDGE) -> list[str]:
    """Every import of `path` (a module under `root`) that breaks a rule, with the rule's reason."""
    own = package_of(path, root)
    found = []
    for module, names in imports(path):
        if not module.startswith("edge"):
            continue
        other = ".".join(module.split(".")[:2])
        for layer in LAYERS:
            if own in layer.importers and other != own and module.startswith(layer.forbidden):
                found.append(f"{layer.why}: {own} imports {module}")
        if other != own and any(part.startswith("_") for part in module.split(".")[1:]):
            found.append(f"{own} imports the private module {module}")
        if other != own and any(name.startswith("_") and not name.startswith("__") for name in names):
            found.append(f"{own} imports private names {names} from {module}")
    return found


SOURCES = sorted(p for p in EDGE.rglob("*.py") if p.name != "__main__.py")  # `python -m` entry points


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(EDGE)) for p in SOURCES])
def test_imports_follow_the_layering(path: Path) -> None:
    found = problems(path)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("cases/bad.py", "from edge.runtime.worker import Worker\n", "a stage imports the wiring"),
        ("delivery/bad.py", "import edge.api.metrics\n", "a stage imports the wiring"),
        ("runtime/bad.py", "from edge.api.app import create_app\n", "the runtime imports a front end"),
        ("api/bad.py", "from edge.cases.engine import CaseEngine\n", "the API reaches into the case stage"),
        ("scene/bad.py", "import edge.cases._hidden\n", "imports the private module edge.cases._hidden"),
        ("runtime/bad.py", "from edge.cases.engine import _Rule\n", "imports private names ['_Rule']"),
    ],
)
def test_the_checker_catches_each_kind_of_wrong_import(tmp_path: Path, module: str, source: str, expected: str) -> None:
    root = tmp_path / "edge"
    planted = root / module
    planted.parent.mkdir(parents=True)
    planted.write_text(source)
    found = problems(planted, root)
    assert len(found) == 1 and expected in found[0], found


def test_the_checker_lets_a_right_import_pass(tmp_path: Path) -> None:
    planted = tmp_path / "edge" / "api" / "good.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from edge.cases import CaseSnapshot\nfrom edge.delivery.outbox import Outbox\nimport numpy\n")
    assert problems(planted, tmp_path / "edge") == []


# -- import circles and file length ---------------------------------------------------------------
# Issue 28's goals: no import circle between modules of edge/, and no file in edge/ over MAX_LINES.
MAX_LINES = 400


def module_name(path: Path, root: Path = EDGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(statements: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module can run: at load time or later inside a function (a deferred import still
    makes the two modules depend on each other); not those under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in statements:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            found += runtime_imports(node.orelse if _is_type_checking(node.test) else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            found += runtime_imports(node.body + handlers + node.orelse + node.finalbody)
        elif isinstance(node, ast.With | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef | ast.For | ast.While):
            found += runtime_imports(node.body)
    return found


def import_graph(root: Path = EDGE) -> dict[str, set[str]]:
    """module -> the modules of the package under `root` it imports at load time.

    `from a.b import c` points at the module `a.b.c` where there is one, else at `a.b`; the parent
    packages Python initialises on the way are left out (a package's `__init__` importing its own
    modules is no circle).
    """
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                targets.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in paths else module)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The groups of modules that import each other, directly or round a loop (strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm; the package is small enough to recurse
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(frozenset(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def structure_problems(root: Path = EDGE) -> list[str]:
    """Every import circle and every over-long file under `root`, one message each."""
    found = [f"import circle among {', '.join(sorted(group))}" for group in circles(import_graph(root))]
    for path in sorted(root.rglob("*.py")):
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES:
            found.append(f"{path.relative_to(root.parent)} is over {MAX_LINES} lines")
    return sorted(found)


def test_no_import_circle_and_no_file_over_the_limit() -> None:
    assert structure_problems() == []


def test_the_structure_checker_catches_a_circle_and_a_long_file(tmp_path: Path) -> None:
    root = tmp_path / "edge"
    files = {
        "__init__.py": "",
        "a/__init__.py": "from edge.a.one import One\n",  # a package importing its own module: no circle
        "a/one.py": "from edge.b import two\nOne = 1\n",
        "b/__init__.py": "",
        "b/two.py": "import edge.b.three\n",
        "b/three.py": "from edge.a.one import One\n",  # one -> two -> three -> one
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from edge.d import D\n",
        "d.py": "from edge import c\ndef later():\n    from edge.e import E\n",  # c -> d only for the type checker
        "e.py": "x = 1\n" * (MAX_LINES + 1),
        "f.py": "def later():\n    from edge import g\n",  # a deferred import still closes a circle
        "g.py": "import edge.f\n",
    }
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    assert structure_problems(root) == [
        "edge/e.py is over 400 lines",
        "import circle among edge.a.one, edge.b.three, edge.b.two",
        "import circle among edge.f, edge.g",
    ]
