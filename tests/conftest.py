"""Shared test helpers: paths to the bundled model, clips and demo config."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STREAMS = REPO / "streams"
MODEL = REPO / "models" / "centernet-mbv3-coco.onnx"
DEMO_CONFIG = STREAMS / "demo.yaml"
VTEST = STREAMS / "vtest.avi"
EDGE = [sys.executable, "-m", "edge.cli"]


@pytest.fixture
def edge_env() -> dict[str, str]:
    """Environment for `edge` subprocesses: plain (non-TTY) output, no stray tokens from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env["COLUMNS"] = "200"
    return env
