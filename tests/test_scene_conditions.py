"""Day, night and weather on real vtest footage: no tamper, no static object and no view cut from the
condition alone, under dusk and infrared a real litter, re-aim, cover and blur are still found, and a
parked vehicle keeps its look for the dwell's appearance check.

The conditions (tests/conditions.py) are composited onto the decoded clip at 1 fps of media time.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from conditions import CONDITIONS, NIGHT, Edit, combined, dusk, to_infrared
from scene_clips import looped_frames, textured_box, vtest_frames
from street_clips import VAN_BOX
from test_dwell_same_object import recoloured
from test_replay_scene import CONFIRM_S, LITTER_OFF, LITTER_ON, LITTER_XY, TAMPER
from test_replay_scene import edit as litter_and_tamper

from edge.cases.appearance import signatures, similarity
from edge.config import RuleConfig
from edge.config.scene import SceneConfig, ViewChangeConfig
from edge.scene import SceneModel, ViewChangeDetector
from edge.scene.photometry import camera_mode
from edge.scene.views import downscale
from edge.types import Detections, Frame
from edge.zones.geometry import box_iou

NAMES = ["person"]


def clip(edit: Edit, end: float) -> Iterator[Frame]:
    for index, (t, image) in enumerate(looped_frames(1.0, end)):
        yield Frame("cam", edit(t, image), t, t, index)


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_a_condition_alone_is_no_tamper_no_object_and_no_cut(condition: str) -> None:
    model = SceneModel("cam", SceneConfig(enabled=True, static_after_s=10.0))
    view = ViewChangeDetector(ViewChangeConfig())
    tampers, objects, cuts, modes = set(), set(), [], []
    for frame in clip(CONDITIONS[condition], 79.0):
        update = model.update(frame, Detections.empty(), NAMES)
        tampers.add(update.tamper.kind)
        objects.update(int(i) for i in update.static_objects.data["object_id"])
        modes.append(update.mode)
        if view.update(frame.image).changed:
            cuts.append(frame.media_time)
    assert tampers == {"none"} and objects == set() and cuts == []
    if condition == "infrared":  # the camera's night mode is seen, and the way back to colour
        assert modes[40] == "infrared" and modes[-1] != "infrared" and update.mode_changes >= 2
    if condition == "dusk":
        assert modes[5] == "day" and modes[-1] == "low_light"


NIGHTS = NIGHT | {"full dusk": dusk(5.0, 20.0)}  # to 0.3x gain: grain must not pass for the detail a blur took


@pytest.mark.parametrize("condition", list(NIGHTS))
def test_litter_and_each_tamper_are_still_found_at_night(condition: str) -> None:
    """The replay's litter and tamper composite under the condition: the litter is one object where it
    lies until taken away, each tamper is reported `confirm_s` after it starts and ends after it."""
    model = SceneModel("cam", SceneConfig(enabled=True, static_after_s=10.0, tamper_confirm_s=CONFIRM_S))
    seen: dict[float, tuple] = {}
    kinds: dict[float, str] = {}
    for frame in clip(combined(litter_and_tamper, NIGHTS[condition]), 110.0):
        update = model.update(frame, Detections.empty(), NAMES)
        kinds[frame.media_time] = update.tamper.kind
        if len(update.static_objects):
            seen[frame.media_time] = (tuple(update.static_objects.data["object_id"]), update.static_objects.xyxy)
    litter = {t: s for t, s in seen.items() if t < TAMPER["moved"][0]}
    assert {ids for ids, _ in litter.values()} == {(1,)}, "one litter, one object"
    assert min(litter) <= LITTER_ON + 10.0 + 2.0 and LITTER_OFF - 1.0 <= max(litter) <= LITTER_OFF + 2.0
    width, height = textured_box(60, 40).shape[1], textured_box(60, 40).shape[0]
    truth = np.array([[LITTER_XY[0], LITTER_XY[1], LITTER_XY[0] + width, LITTER_XY[1] + height]], np.float32)
    assert box_iou(litter[LITTER_ON + 20.0][1], truth)[0, 0] >= 0.5
    for kind, (start, end) in TAMPER.items():
        reported = [t for t, k in kinds.items() if k == kind]
        assert reported, f"{kind} not found under {condition}"
        assert start + CONFIRM_S - 1.0 <= min(reported) <= start + CONFIRM_S + 1.0
        assert end <= max(reported) + 1.0 <= end + CONFIRM_S + 2.0
    other = {k for t, k in kinds.items() if not any(a <= t < b + CONFIRM_S + 1.0 for a, b in TAMPER.values())}
    assert other == {"none"}, "no tamper outside the three"


def test_the_mode_is_read_through_a_decoder_colour_conversion() -> None:
    """A grey picture that went through YUV 4:2:0 and back has a constant cast: still infrared. The
    bottom of the dusk ramp is dark colour (low_light), the day is day."""
    (t, image), config = vtest_frames(1.0)[30], SceneConfig()

    def decoded(picture: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)

    def mode(picture: np.ndarray) -> str:
        return camera_mode(downscale(decoded(picture), 160), config.infrared_chroma, config.low_light_level)

    assert mode(to_infrared(image, t)) == "infrared"
    assert mode(dusk(0.0, 1.0)(t, image)) == "low_light"
    assert mode(image) == "day"


@pytest.mark.parametrize("condition", ["dusk", "infrared", "streetlight", "headlights", "cloud"])
def test_a_parked_vehicle_keeps_its_look_through_the_light_and_another_one_does_not(condition: str) -> None:
    """The dwell's appearance check (edge/cases/appearance.py) on the parked van of the clip: each
    lit frame's look against the day's stays above the rules' default `min_similarity`; the same van
    repainted dark red, parked in its place under the same light, stays below it (in colour)."""
    edit, (x1, y1, x2, y2) = CONDITIONS[condition], VAN_BOX
    box = np.array([VAN_BOX], np.float32)
    red = recoloured(np.ascontiguousarray(vtest_frames(1.0)[0][1][y1:y2, x1:x2]))
    bar = RuleConfig(id="r", event_code="0505").min_similarity
    frames = vtest_frames(1.0)
    day = signatures(frames[5][1], box)
    for t, image in frames[20:76:8]:
        lit = edit(t, image)
        assert similarity(day, signatures(lit, box))[0] >= bar + 0.05, f"the van at {t} s"
        other = image.copy()
        other[y1:y2, x1:x2] = red
        if camera_mode(downscale(edit(t, other), 160), 2.5, 50.0) != "infrared":
            assert similarity(day, signatures(edit(t, other), box))[0] < bar, f"another van at {t} s"
