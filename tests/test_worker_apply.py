"""A rule hot-applied to the running worker reaches the camera's stream, not only its rules: a camera on
key frames only (2 s GOP, slow rule) goes to every frame when a rule that needs them is applied."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig, parse_config
from edge.runtime.worker import Worker

from conftest import DEMO_CONFIG, MODEL, parked_gate_camera

WAIT_S = 60.0  # an upper bound on a loaded CI box, not a performance claim


def wait_for(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"gave up after {WAIT_S:.0f} s waiting for {what}"
        time.sleep(0.2)


def gate_config(camera: dict[str, Any], tmp_path: Path) -> EdgeConfig:
    """The bundled model on one camera; cases wait in the outbox (no platform)."""
    data = {
        "models": [{"id": "coco", "path": str(MODEL)}],
        "cameras": [camera],
        "storage": {"dir": str(tmp_path / "var")},
        "platform": {"url": "http://127.0.0.1:9/unreachable"},
    }
    return parse_config(data, DEMO_CONFIG.parent)


def test_a_quick_rule_applied_to_a_key_frame_camera_gets_every_frame(tmp_path) -> None:
    camera = parked_gate_camera(fps=2, min_duration_s=60, gap_allowance_s=10)  # GOP 2 s: key frames suffice
    config = gate_config(camera, tmp_path)
    worker = Worker(config)
    worker.start()
    try:
        decode = lambda: worker.camera_health()["gate"].health.decode  # noqa: E731
        wait_for(lambda: decode() == "keyframes", "key-frame decoding")
        quick = config.cameras[0].zones[0].rules[0].model_copy(update={"min_duration_s": 3})
        zone = config.cameras[0].zones[0].model_copy(update={"rules": [quick]})
        worker.apply_camera(config.cameras[0].model_copy(update={"zones": [zone]}), zone_version=2)
        wait_for(lambda: decode() == "all", "every frame decoded after the quick rule")
    finally:
        worker.stop()


def test_plates_turned_on_by_a_hot_applied_rule_are_read_without_a_restart(tmp_path) -> None:
    # the worker starts with no plate rule (no reader loaded); the edit turns plates on for the open cases
    camera = parked_gate_camera(re_report_s=2)
    config = gate_config(camera, tmp_path)
    worker = Worker(config)
    worker.start()
    try:
        read = lambda: [m for m in worker.recent_messages(100) if "plate" in m.body.get("detection", {})]  # noqa: E731
        wait_for(lambda: any(m.kind == "new" for m in worker.recent_messages(100)), "the parked cases")
        assert not read()
        plates = config.cameras[0].zones[0].rules[0].model_copy(update={"plates": True})
        zone = config.cameras[0].zones[0].model_copy(update={"rules": [plates]})
        worker.apply_camera(config.cameras[0].model_copy(update={"zones": [zone]}), zone_version=2)
        wait_for(lambda: read(), "an update with its plate after the edit")
        plate = read()[0].body["detection"]["plate"]
        # vtest shows no readable plate (a 768x576 view): unread, with its reason, never a guess
        assert plate["text"] is None and plate["unread"] in ("too_small", "blurred", "no_text", "low_confidence")
    finally:
        worker.stop()
