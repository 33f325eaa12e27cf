"""The platform's verdicts through the real pipeline and case engine (scripted detections, real SQLite).

A wrong_object verdict keeps that object at that place from ever starting a candidate again, across a
restart, until it expires or the view is re-aimed; a different object at the same place makes its case;
a confirmed verdict suppresses nothing; repeats, unknown cases and other boxes' cases are refused.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import numpy as np
import pytest
from pydantic import ValidationError
from test_cases_support import CAR, NAMES, detections, frame, make_config, rule

from edge.cases import VerdictError, VerdictRequest
from edge.runtime import verdicts
from edge.runtime.pipeline import CameraPipeline
from edge.types import CaseMessage, Frame

RED, BLUE = (30, 30, 200), (200, 60, 30)  # BGR: the rejected object, and another one at its place
EXPIRES_S = 90.0


def painted(t: float, colour: tuple[int, int, int] | None) -> Frame:
    """A frame with an object of `colour` where CAR's box is (what the signature of its crop sees)."""
    f = frame(t)
    if colour is not None:
        f.image[40:90, 200:260] = colour
    return f


class Camera:
    def __init__(self, tmp_path, **rule_fields) -> None:
        self.config = make_config([rule(**rule_fields)], top={"verdicts": {"suppress_days": EXPIRES_S / 86400}})
        self.path = tmp_path / "state.db"
        self.sent: list[CaseMessage] = []
        self.t = 0.0
        self.open()

    def open(self) -> None:
        self.pipeline = CameraPipeline(self.config, "cam1", self.path, {"coco": NAMES}, self.sent.append)

    def play(self, seconds: float, colour: tuple[int, int, int] | None) -> list[CaseMessage]:
        before = len(self.sent)
        for _ in range(int(seconds * 2)):
            boxes = [CAR] if colour is not None else []
            self.pipeline.analyse(painted(self.t, colour), {"coco": detections(boxes)})
            self.t += 0.5
        return self.sent[before:]

    def judge(self, case_id: str, **fields) -> dict:
        return verdicts.judge([self.pipeline], "edge-test", case_id, VerdictRequest(**fields))


@pytest.fixture
def camera(tmp_path):
    cam = Camera(tmp_path)
    yield cam
    cam.pipeline.close()


def test_a_rejected_object_never_comes_back_but_another_object_there_does(camera):
    [new] = [m for m in camera.play(25, RED) if m.kind == "new"]
    with pytest.raises(VerdictError) as refused:
        camera.judge(new.case_id, request_id="v0", verdict="confirmed", worker_id="another-box")
    assert refused.value.code == "other_box" and refused.value.status == 403
    with pytest.raises(VerdictError) as unknown:
        camera.judge("no-such-case", request_id="v0", verdict="confirmed")
    assert unknown.value.status == 404

    answer = camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object", note="a stone")
    assert answer["suppression_id"] and answer["replayed"] is False
    assert (answer["zone_id"], answer["rule_id"], answer["reason"]) == ("z1", "r1", "wrong_object")
    again = camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object", note="a stone")
    assert again == answer | {"replayed": True}  # a retry: the stored answer, nothing stored twice
    with pytest.raises(VerdictError) as repeat:
        camera.judge(new.case_id, request_id="v2", verdict="confirmed")
    assert repeat.value.status == 409 and "already has a verdict" in repeat.value.detail
    [entry] = camera.pipeline.suppressions()
    assert (entry.label, entry.case_id) == ("car", new.case_id)
    assert camera.pipeline.snapshot().suppressed == (entry,)  # what the editor's live view draws

    # the rejected object is no longer seen by the rule: its case clears, and no candidate starts again
    later = camera.play(30, RED)
    assert [m.kind for m in later] == ["cleared"]
    assert all(not p.places for z in camera.pipeline.snapshot().zones for p in z.rules)

    camera.pipeline.close()  # a restart keeps the suppression
    camera.open()
    assert [s.id for s in camera.pipeline.suppressions()] == [entry.id]
    assert camera.play(25, RED) == []

    # another object standing exactly there makes its case; a confirmed verdict suppresses nothing
    [other] = [m for m in camera.play(25, BLUE) if m.kind == "new"]
    confirmed = camera.judge(other.case_id, request_id="v3", verdict="confirmed")
    assert confirmed["suppression_id"] is None and len(camera.pipeline.suppressions()) == 1
    [row] = camera.pipeline.quality()
    assert (row.cases, row.confirmed, row.false_alarms, row.precision) == (2, 1, 1, 0.5)
    assert row.reasons == {"wrong_object": 1} and not row.flagged  # fewer verdicts than flag_min_verdicts

    # the entry expires: the same object then makes a case again
    camera.play(15, None)
    assert camera.t > EXPIRES_S + 25
    assert [m.kind for m in camera.play(25, RED) if m.kind == "new"] == ["new"]
    assert camera.pipeline.suppressions() == []


def test_a_re_aim_ends_the_suppressions_and_malformed_verdicts_are_refused(camera):
    [new] = [m for m in camera.play(25, RED) if m.kind == "new"]
    camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object")
    assert len(camera.pipeline.suppressions()) == 1
    camera.pipeline.rebase_scene()  # the operator re-aimed the camera
    assert camera.pipeline.suppressions() == []

    for fields, problem in [
        ({"request_id": "x", "verdict": "false_alarm"}, "needs a 'reason'"),
        ({"request_id": "x", "verdict": "false_alarm", "reason": "ugly"}, "reason"),
        ({"request_id": "x", "verdict": "confirmed", "reason": "other"}, "takes no 'reason'"),
        ({"request_id": "x y", "verdict": "confirmed"}, "request_id"),
    ]:
        with pytest.raises(ValidationError, match=problem):
            VerdictRequest(**fields)


def test_a_cut_view_ends_the_suppressions(camera):
    [new] = [m for m in camera.play(25, RED) if m.kind == "new"]
    camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object")
    cut = painted(camera.t, RED)
    cut.image[:] = np.random.default_rng(1).integers(0, 255, cut.image.shape, np.uint8)
    camera.pipeline.analyse(cut, {"coco": detections([CAR])})
    assert camera.pipeline.suppressions() == []


def test_a_verdict_the_state_file_cannot_take_is_refused_whole_and_taken_when_sent_again(camera):
    [new] = [m for m in camera.play(25, RED) if m.kind == "new"]
    with closing(sqlite3.connect(camera.path)) as other:  # another writer holds the state file, as a full disk
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(VerdictError) as busy:
            camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object")
        assert busy.value.status == 503 and "send it again later" in busy.value.detail
        other.rollback()
    assert camera.pipeline.suppressions() == [] and camera.pipeline.quality()[0].verdicts == 0  # nothing stored
    answer = camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object")
    assert answer["replayed"] is False and [s.id for s in camera.pipeline.suppressions()] == [answer["suppression_id"]]


def test_a_rule_without_same_object_checks_still_suppresses_only_that_object(tmp_path):
    camera = Camera(tmp_path, min_presence=0.0, min_continuity=0.0, min_similarity=0.0)  # the old, loose dwell
    try:
        [new] = [m for m in camera.play(25, RED) if m.kind == "new"]
        camera.judge(new.case_id, request_id="v1", verdict="false_alarm", reason="wrong_object")
        assert [m.kind for m in camera.play(30, RED)] == ["cleared"]
        assert [m.kind for m in camera.play(25, BLUE)] == ["new"]  # suppressing never matches by place alone
    finally:
        camera.pipeline.close()
