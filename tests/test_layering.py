"""The package layering of CONTRIBUTING.md, checked on the source: a wrong import fails the suite.

The rules are data (`LAYERS`, below), read by one checker that runs over every module of `edge/`
and over a planted module that breaks each rule, so a checker that misses an import fails too:

- stages (ingest, infer, track, scene, cases, delivery, zones, config) never import the wiring
  (runtime), the operator API or the CLI: they are used by them, not the other way round;
- the runtime never imports the API or the CLI (metrics and the zone store live outside it);
- nobody imports another package's private modules or names (`_something`);
- the API uses the case stage through `edge.cases` only (its public interface).
A package's `__main__.py` (a `python -m edge.x` entry point into the CLI) is not a stage module.
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
