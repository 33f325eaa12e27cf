"""Clutter without a clutter model, through the worker: a box left on the lawn becomes one 0507 case
(from the scene model, no detector class), cleared with an after-picture once it is taken away."""

from __future__ import annotations

import cv2
import numpy as np
import yaml
from scene_clips import during, frames, textured_box, with_patch

from edge.config import parse_config
from edge.runtime.worker import Worker

from conftest import DEMO_CONFIG

PLACED, REMOVED = 20.0, 55.0
BOX, BOX_XY = textured_box(90, 60), (60, 420)  # on the lawn at the bottom left of vtest
LAWN = [[0.0, 0.6], [0.4, 0.6], [0.4, 1.0], [0.0, 1.0]]  # the box is ~7.6% of this zone


def static_rule(rule_id: str, min_coverage: float) -> dict:
    return {
        "id": rule_id,
        "kind": "static_object",
        "event_code": "0507",
        "min_duration_s": 10,
        "min_coverage": min_coverage,
        "clear_after_s": 4,
    }


def test_left_object_is_one_case_and_is_cleared_after_removal(tmp_path):
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    data["cameras"][0]["zones"] = [
        {"id": "lawn", "polygon": LAWN, "rules": [static_rule("piled", 0.05), static_rule("big-pile", 0.5)]}
    ]
    data["scene"] = {"enabled": True, "static_after_s": 15}
    data["storage"]["dir"] = str(tmp_path / "var")
    worker = Worker(parse_config(data, DEMO_CONFIG.parent))
    assert worker.pipelines["campus-north"].model_ids == []  # no detector runs for this camera
    try:
        edit = during(PLACED, REMOVED, lambda image: with_patch(image, BOX, *BOX_XY))
        for frame in frames(edit, fps=2.0, end=75.0, camera="campus-north"):
            worker.analyse(frame, {})
        messages = worker.recent_messages(50)[::-1]
    finally:
        worker.stop()
    assert [(m.kind, m.body["rule"]["id"]) for m in messages] == [("new", "piled"), ("cleared", "piled")]
    new, cleared = messages
    assert new.case_id == cleared.case_id
    assert new.body["event"]["code"] == "0507"
    assert PLACED + 10 <= new.body["times"]["confirmed_media_s"] <= PLACED + 15 + 10 + 1
    assert cleared.body["times"]["message_media_s"] >= REMOVED  # cleared once the lawn is back
    x1, _, _, y2 = new.body["detection"]["box"]
    assert abs(x1 - BOX_XY[0]) < 12 and abs(y2 - (BOX_XY[1] + 60)) < 12  # the box, where it was left
    after = [e for e in cleared.body["evidence"] if e["kind"] == "after"]
    assert after, "a cleared case carries an after-picture"
    picture = cv2.imdecode(np.frombuffer(cleared.pictures[after[0]["name"]], np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (576, 768, 3)
