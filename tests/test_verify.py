"""Verification on request through the real pipeline and case engine (scripted detections, real SQLite).

The case's object is looked for with the dwell's own test in the zone as configured now; each answer
is the case's next message, validated against the published schema; retries and unknown cases are clear.
"""

from __future__ import annotations

import base64

import cv2
import jsonschema_rs
import numpy as np
import pytest
from test_cases_support import CAR, NAMES, detections, frame, make_config, rule

from edge.cases import case_json_schema
from edge.cases.verify import VerifyRequest
from edge.config.verification import VerificationConfig
from edge.runtime.pipeline import CameraPipeline
from edge.runtime.routing import ask
from edge.types import CaseMessage

ELSEWHERE = [[0.0, 0.6], [0.3, 0.6], [0.3, 1.0], [0.0, 1.0]]  # bottom-left: the car stands outside it


class Camera:
    """A pipeline on scripted frames; `t` is its media clock."""

    def __init__(self, tmp_path, **rule_fields) -> None:
        self.config = make_config([rule(**rule_fields)])
        self.sent: list[CaseMessage] = []
        self.pipeline = CameraPipeline(self.config, "cam1", tmp_path / "state.db", {"coco": NAMES}, self.sent.append)
        self.t = 0.0

    def play(self, seconds: float, boxes=(CAR,)) -> None:
        for _ in range(int(seconds * 2)):
            self.pipeline.analyse(frame(self.t), {"coco": detections(boxes)})
            self.t += 0.5

    def verify(self, request_id: str, case_id: str, boxes=(CAR,), frames: int = 3):
        future = self.pipeline.verify(VerifyRequest(case_id, request_id, 1.0), frames)
        while not future.done():
            self.play(0.5, boxes)
        return future.result()


@pytest.fixture
def camera(tmp_path):
    cam = Camera(tmp_path)
    cam.play(25)
    yield cam
    cam.pipeline.close()


def case_of(camera: Camera) -> str:
    [new] = [m for m in camera.sent if m.kind == "new"]
    return new.case_id


def test_still_present_then_gone_in_an_edited_zone_then_unavailable(camera):
    validator = jsonschema_rs.validator_for(case_json_schema())
    case_id = case_of(camera)
    answer = camera.verify("r1", case_id)
    assert answer.verdict == "still_present" and answer.message is not None
    message = answer.message
    assert (message.kind, message.seq) == ("verification", 2) and camera.sent[-1] == message
    validator.validate(message.body)
    assert message.body["verification"]["verdict"] == "still_present"
    assert message.body["severity"] == "normal" and message.body["status"] == "confirmed"
    [entry] = message.body["evidence"]
    assert entry["kind"] == "verification" and entry["name"] == "02-verify.jpg"
    picture = answer.to_json()["picture"]
    image = cv2.imdecode(np.frombuffer(base64.b64decode(picture["jpeg_base64"]), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (240, 320)
    assert image[40, 230, 2] > 180 and image[40, 230, 0] < 100  # the car's box edge drawn in red

    # the same request again: the same answer, no second message
    sent = len(camera.sent)
    assert camera.verify("r1", case_id) == answer and len(camera.sent) == sent

    # the zone redrawn where the car is not: gone, although the car is still detected
    zone = camera.config.cameras[0].zones[0].model_copy(update={"polygon": ELSEWHERE})
    camera.pipeline.reload(camera.config.cameras[0].model_copy(update={"zones": [zone]}), 2)
    answer = camera.verify("r2", case_id, frames=3)
    assert answer.verdict == "gone" and answer.message.seq == 3
    validator.validate(answer.message.body)

    # no analysed frame within the bound: camera_unavailable, without a picture
    answer = ask([camera.pipeline], VerificationConfig(timeout_s=0.2), case_id, "r3")
    assert answer.verdict == "camera_unavailable" and answer.message.seq == 4
    assert answer.message.pictures == {} and answer.to_json()["picture"] is None
    validator.validate(answer.message.body)

    # the case's own messages go on after the verifications
    camera.play(12, boxes=())
    cleared = [m for m in camera.sent if m.kind == "cleared"]
    assert [m.seq for m in cleared] == [5]
    assert [m.seq for m in camera.sent if m.case_id == case_id] == [1, 2, 3, 4, 5]


def test_gone_needs_every_frame_empty_and_a_cleared_case_can_be_asked(camera):
    case_id = case_of(camera)
    # one frame without the car (a missed detection) does not make it gone
    future = camera.pipeline.verify(VerifyRequest(case_id, "a", 1.0), 3)
    camera.play(0.5, boxes=())
    camera.play(0.5)
    assert future.result(timeout=0).verdict == "still_present"
    camera.play(12, boxes=())
    assert camera.sent[-1].kind == "cleared"
    answer = camera.verify("b", case_id, boxes=())
    assert answer.verdict == "gone" and answer.message.body["status"] == "cleared"
    assert camera.verify("c", case_id).verdict == "still_present"  # back at its last place


def test_unknown_case_and_a_cut_view(camera):
    answer = ask([camera.pipeline], VerificationConfig(timeout_s=0.2), "no-such-case", "x")
    assert answer.verdict == "unknown_case" and answer.message is None
    future = camera.pipeline.verify(VerifyRequest(case_of(camera), "cut", 1.0), 3)
    other = frame(camera.t)
    other.image[:] = np.random.default_rng(1).integers(0, 255, other.image.shape, np.uint8)
    camera.pipeline.analyse(other, {"coco": detections([CAR])})
    assert future.result(timeout=0).verdict == "view_changed"
