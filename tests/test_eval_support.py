"""Two `edge eval` runs of the bundled clip, shared by the eval, determinism and annotation tests.

Replaying vtest takes 10-20 s here, so each run happens once per test session (cached on the
session's temp folder) whichever test module asks first:
- `passing_run`: in-process through `edge.cli.main`, with annotated output and thresholds it meets;
- `gated_run`: a separate `edge` process with another hash seed and an impossible latency limit.
Having one run in-process and one in a fresh process makes the determinism check cover what a
tester does: run the same command twice.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.cli import main

from conftest import DEMO_CONFIG, EDGE, REPO, STREAMS

TRUTH = STREAMS / "vtest.truth.yaml"


@dataclass(frozen=True)
class EvalRun:
    code: int
    output: str
    out: Path  # --out folder: <out>/01-vtest/cases.jsonl and evidence, <out>/report.json
    annotate: Path | None

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.out / "report.json").read_text(encoding="utf-8"))

    @property
    def run_dir(self) -> Path:
        return self.out / "01-vtest"

    def lines(self) -> list[dict[str, Any]]:
        """cases.jsonl, one dict per case message, in the order they were sent."""
        return [json.loads(line) for line in (self.run_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()]


@functools.cache
def passing_run(base: Path) -> EvalRun:
    out, annotate = base / "eval-pass", base / "eval-pass-annotated"
    args = ["eval", "--config", str(DEMO_CONFIG), str(TRUTH), "--out", str(out), "--annotate", str(annotate)]
    args += ["--min-precision", "1", "--min-recall", "1", "--min-f1", "1", "--max-duplicates", "0"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(args)
    return EvalRun(code, buffer.getvalue(), out, annotate)


@functools.cache
def gated_run(base: Path) -> EvalRun:
    out = base / "eval-gated"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env |= {"COLUMNS": "200", "PYTHONHASHSEED": "12345"}
    args = ["eval", "-c", str(DEMO_CONFIG), str(TRUTH), "--out", str(out), "--min-recall", "1", "--max-latency", "5"]
    proc = subprocess.run([*EDGE, *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    return EvalRun(proc.returncode, proc.stdout + proc.stderr, out, None)
