"""A suppressed object is that object at that place, not the place: composites of real vtest pieces.

A real vtest frame, held still: the lawn stone that the bundled detector calls a person and a few
people standing. The stone's loitering case is rejected as wrong_object; the stone then opens
nothing, even after a restart; a real person (cut from vtest) who later stands exactly on the
stone's spot still makes a case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scene_clips import vtest_frames
from street_clips import detector, paste, people, play
from test_dwell_same_object import config, loitering

from edge.cases import VerdictRequest
from edge.runtime import verdicts
from edge.runtime.pipeline import CameraPipeline

STONE = (161, 249, 193, 276)  # pixels of streams/vtest-road.truth.yaml's stone-10s box
SECONDS = 14.0


def test_a_person_standing_on_the_rejected_stone_still_makes_a_case(tmp_path: Path) -> None:
    cfg = config(tmp_path, [loitering(gap_allowance_s=5, clear_after_s=5)])
    road = vtest_frames(1.0)[0][1]
    messages, _ = play(cfg, tmp_path, lambda t: road, SECONDS)
    opened = [m for m in messages if m.kind == "new"]
    centre = (STONE[0] + STONE[2]) // 2
    [stone] = [
        m for m in opened if abs(_centre(m) - centre) < 10 and abs(m.body["detection"]["box"][3] - STONE[3]) < 10
    ]
    assert len(opened) >= 3  # the people standing in that frame too

    pipeline = CameraPipeline(
        cfg, "campus-north", tmp_path / "state.db", {"coco": detector(cfg).class_names}, lambda _m: None
    )
    try:
        request = VerdictRequest(request_id="p1", verdict="false_alarm", reason="wrong_object")
        assert verdicts.judge([pipeline], cfg.worker.id, stone.case_id, request)["suppression_id"]
    finally:
        pipeline.close()

    # the same frame again (a restart: the state file is reopened): the stone is no longer seen by the
    # rule, so its case clears (the people's cases go on), and it never starts a candidate again
    again, _ = play(cfg, tmp_path, lambda t: road, 2 * SECONDS)
    assert [(m.kind, m.case_id) for m in again] == [("cleared", stone.case_id)]

    # a person standing on the stone's spot (feet where its bottom is) is another object: a case
    person = people(cfg, 1)[0]
    scene = paste(road, person, centre - person.shape[1] // 2, STONE[3] - person.shape[0])
    later, _ = play(cfg, tmp_path, lambda t: scene, SECONDS)
    [new] = [m for m in later if m.kind == "new"]
    box = np.asarray(new.body["detection"]["box"])
    assert new.body["detection"]["class"] == "person" and box[3] - box[1] > 2 * (STONE[3] - STONE[1])
    assert abs(_centre(new) - centre) < 15  # standing where the stone lies


def _centre(message) -> float:
    x1, _, x2, _ = message.body["detection"]["box"]
    return (x1 + x2) / 2
