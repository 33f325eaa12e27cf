"""Eval parity of the savings on every ground-truth file in streams/: the same clip and rule set give
the same cases (ids, times within one analysed frame, boxes within IoU 0.9) with the change gate on
and off, and with the INT8 copy of the model instead of fp32 (gate on). The bundled configs watch
busy bands where people cross in every frame, so the gate rarely skips there; the parking-only
variant watches the no-parking zone alone, where it does."""

from __future__ import annotations

from pathlib import Path

import pytest
from case_parity import assert_same_decisions

from edge.cases import models_for
from edge.config import EdgeConfig, load_config
from edge.evaluate.truth import load_truth
from edge.infer.session import cpu_has_int8_dot_product
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import ReplayResult, replay_clip

from conftest import STREAMS


def parking_only(config: EdgeConfig) -> EdgeConfig:
    camera = config.cameras[0]
    zones = [z for z in camera.zones if z.id == "no-parking-gate"]
    return config.model_copy(update={"cameras": [camera.model_copy(update={"zones": zones})]})


INT8 = STREAMS.parent / "models" / "centernet-mbv3-coco-int8.onnx"


def replay(config: EdgeConfig, truth: Path, run_dir: Path, gate: bool, model: Path | None = None) -> ReplayResult:
    config = config.model_copy(update={"change_gate": config.change_gate.model_copy(update={"enabled": gate})})
    if model is not None:
        config = config.model_copy(update={"models": [config.models[0].model_copy(update={"path": model})]})
    detectors = load_detectors(config, models_for(config.cameras[0]))
    return replay_clip(config, load_truth(truth).clip, run_dir, detectors=detectors)


CASES = {
    "demo": (lambda: load_config(STREAMS / "demo.yaml"), "vtest.truth.yaml"),
    "road": (lambda: load_config(STREAMS / "road.yaml"), "vtest-road.truth.yaml"),
    "parking-only": (lambda: parking_only(load_config(STREAMS / "demo.yaml")), "vtest.truth.yaml"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_savings_change_no_case(name: str, tmp_path: Path) -> None:
    make_config, truth = CASES[name]
    config = make_config()
    plain = replay(config, STREAMS / truth, tmp_path / "off", gate=False)
    gated = replay(config, STREAMS / truth, tmp_path / "on", gate=True)
    assert plain.new_cases, "the clip opens cases under this rule set"
    assert_same_decisions(plain.messages, gated.messages, frame_s=1 / config.cameras[0].analysis.fps)
    assert plain.frames_reused == 0 and gated.frames_analysed == plain.frames_analysed
    if name == "parking-only":
        assert gated.frames_reused >= 0.2 * gated.frames_analysed, "the parked vehicles' zone is often still"
    elif cpu_has_int8_dot_product():  # the truth files' rule sets: INT8 with the gate decides as fp32 without it
        # (only where the CPU has 8-bit dot products: without them the int8 model scores otherwise, test_int8.py)
        int8 = replay(config, STREAMS / truth, tmp_path / "int8", gate=True, model=INT8)
        assert_same_decisions(plain.messages, int8.messages, frame_s=1 / config.cameras[0].analysis.fps)
