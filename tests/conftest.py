"""Shared test helpers: paths to the bundled model, clips and demo config."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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


def parked_gate_camera(fps: float = 2, **rule: Any) -> dict[str, Any]:
    """The bundled clip as a live, looping camera whose no-parking zone holds the parked van and car.

    For `edge run` process tests: the rule opens both cases 3 s after the worker starts and keeps
    them open (`rule` overrides its fields)."""
    parked = {"id": "parked", "event_code": "0505", "classes": ["car", "truck"], "min_duration_s": 3}
    return {
        "id": "gate",
        "source": {"url": str(STREAMS / "vtest-h264.mp4"), "loop": True, "live": True},
        "analysis": {"fps": fps},
        "zones": [
            {
                "id": "no-parking",
                "polygon": [[0.80, 0.04], [1.0, 0.04], [1.0, 0.26], [0.80, 0.26]],
                "rules": [parked | {"clear_after_s": 600} | rule],
            }
        ],
    }
