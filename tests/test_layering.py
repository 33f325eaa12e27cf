"""The package layering of CONTRIBUTING.md, checked on the source: a wrong import fails the suite.

- stages (ingest, infer, track, scene, cases, delivery, zones, config) never import the wiring
  (runtime), the operator API or the CLI: they are used by them, not the other way round;
- the runtime never imports the API (metrics and the zone store live outside it);
- nobody imports another package's private modules or names (`_something`);
- the API uses the case stage through `edge.cases` only (its public interface).
A package's `__main__.py` (a `python -m edge.x` entry point into the CLI) is not a stage module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[1] / "edge"
STAGES = ("ingest", "infer", "track", "scene", "cases", "delivery", "zones", "config")
ABOVE_STAGES = ("edge.runtime", "edge.api", "edge.cli", "edge.evaluate", "edge.receiver")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every `import` / `from ... import` in a file, type-checking ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


def package_of(path: Path) -> str:
    parts = path.relative_to(EDGE.parent).with_suffix("").parts
    return ".".join(parts[:2])


SOURCES = sorted(p for p in EDGE.rglob("*.py") if p.name != "__main__.py")  # `python -m` entry points


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(EDGE)) for p in SOURCES])
def test_imports_follow_the_layering(path: Path) -> None:
    own = package_of(path)
    problems = []
    for module, names in imports(path):
        if not module.startswith("edge"):
            continue
        other = ".".join(module.split(".")[:2])
        if own.split(".")[-1] in STAGES and other in ABOVE_STAGES:
            problems.append(f"stage {own} imports {module} (the wiring or a front end)")
        if own == "edge.runtime" and other in ("edge.api", "edge.cli"):
            problems.append(f"the runtime imports {module}")
        if other != own and any(part.startswith("_") for part in module.split(".")[1:]):
            problems.append(f"{own} imports the private module {module}")
        if other != own and any(name.startswith("_") and not name.startswith("__") for name in names):
            problems.append(f"{own} imports private names {names} from {module}")
        if own == "edge.api" and module.startswith("edge.cases."):
            problems.append(f"the API reaches into {module}: use edge.cases")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from edge.api.metrics import SnapshotCollector\nimport edge.cases._hidden\n")
    assert ("edge.api.metrics", ["SnapshotCollector"]) in imports(bad) and ("edge.cases._hidden", []) in imports(bad)
