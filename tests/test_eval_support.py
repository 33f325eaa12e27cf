"""Two `edge eval` runs of the bundled clip, shared by the eval, determinism and annotation tests.

Replaying vtest takes 10-20 s here, so the two runs happen once per test session (cached on the
session's temp folder, run side by side) whichever test module asks first:
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


def passing_run(base: Path) -> EvalRun:
    return _runs(base)[0]


def gated_run(base: Path) -> EvalRun:
    return _runs(base)[1]


@functools.cache
def _runs(base: Path) -> tuple[EvalRun, EvalRun]:
    """Both runs at once (the fresh process works while the in-process run does), once per session."""
    gated_out = base / "eval-gated"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env |= {"COLUMNS": "200", "PYTHONHASHSEED": "12345"}
    args = ["eval", "-c", str(DEMO_CONFIG), str(TRUTH), "--out", str(gated_out), "--min-recall", "1"]
    args += ["--max-latency", "5"]
    gated = subprocess.Popen(
        [*EDGE, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env
    )
    try:
        out, annotate = base / "eval-pass", base / "eval-pass-annotated"
        args = ["eval", "--config", str(DEMO_CONFIG), str(TRUTH), "--out", str(out), "--annotate", str(annotate)]
        args += ["--min-precision", "1", "--min-recall", "1", "--min-f1", "1", "--max-duplicates", "0"]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(args)
        output, _ = gated.communicate(timeout=300)
    finally:
        if gated.poll() is None:
            gated.kill()
            gated.wait()
    return EvalRun(code, buffer.getvalue(), out, annotate), EvalRun(gated.returncode, output, gated_out, None)
