"""Dwell rule end to end on scripted detections: one case per violation, evidence, contract, ids."""

from __future__ import annotations

import hashlib

import cv2
import jsonschema_rs
import numpy as np
import pytest
from test_cases_support import CAR, EPOCH, VAN, Run, make_config, rule

from edge.cases import case_json_schema
from edge.config import ConfigError


def test_vehicle_parked_for_the_whole_clip_is_one_case(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 80, [CAR])
    assert [k for k, _ in run.kinds()] == ["new"]
    body = run.messages[0].body
    assert body["times"]["first_seen_media_s"] == 0.0 and body["times"]["confirmed_media_s"] == 20.0
    assert body["detection"]["class"] == "car" and body["event"]["code"] == "0505"


def test_car_and_truck_boxes_on_one_vehicle_are_one_object(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    twin = (202, 42, 262, 91, "truck", 0.4)
    run.play(0, 40, [CAR, twin])
    assert len(run.messages) == 1


@pytest.mark.parametrize(("case_per", "cases"), [("object", 2), ("zone", 1)])
def test_two_vehicles_one_case_each_or_one_per_zone(tmp_path, case_per, cases):
    run = Run(make_config([rule(case_per=case_per)]), tmp_path / "state.db")
    run.play(0, 10, [CAR])
    run.play(10, 60, [CAR, VAN])  # the van arrives 10 s later
    news = [m for m in run.messages if m.kind == "new"]
    assert len(news) == cases
    assert len(run.messages) == cases  # nothing else: no clearing, no per-frame repeats


def test_zone_case_counts_the_second_vehicle(tmp_path):
    run = Run(make_config([rule(case_per="zone", clear_after_s=5)]), tmp_path / "state.db")
    run.play(0, 10, [CAR])
    run.play(10, 60, [CAR, VAN])
    run.play(60, 70, [])
    assert [m.kind for m in run.messages] == ["new", "cleared"]
    assert run.messages[1].body["repeat_count"] == 2


def test_objects_outside_zone_low_score_or_moving_open_nothing(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    outside = (20, 150, 80, 200, "car", 0.9)
    weak = (200, 40, 260, 90, "car", 0.2)
    person = (200, 40, 220, 90, "person", 0.9)
    for k, t in enumerate(np.arange(0, 60, 0.5)):
        walker = (160 + 2 * k, 20, 190 + 2 * k, 60, "car", 0.8)  # drives slowly through the zone
        run.step(float(t), [outside, weak, person, walker])
    assert run.messages == []


def test_dwell_counts_media_seconds_not_frames(tmp_path):
    sparse = Run(make_config([rule()]), tmp_path / "a.db")
    sparse.play(0, 19.9, [CAR], step=2.0)  # 10 frames over 18 s: not enough
    assert sparse.messages == []
    dense = Run(make_config([rule()]), tmp_path / "b.db")
    dense.play(0, 20.1, [CAR], step=4.0)  # 6 frames over 20 s: enough
    assert [m.kind for m in dense.messages] == ["new"]


def test_evidence_pictures_decode_and_match_the_record(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 25, [CAR])
    message = run.messages[0]
    kinds = {e["kind"]: e for e in message.body["evidence"]}
    assert set(kinds) == {"full", "crop", "first_seen"}
    for entry in message.body["evidence"]:
        jpeg = message.pictures[entry["name"]]
        assert hashlib.sha256(jpeg).hexdigest() == entry["sha256"] and len(jpeg) == entry["bytes"]
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[1::-1] == (entry["width"], entry["height"])
    full = cv2.imdecode(np.frombuffer(message.pictures["01-full.jpg"], np.uint8), cv2.IMREAD_COLOR)
    # the red box edge is drawn around the car, the amber zone outline along the zone's left edge
    assert full[40, 230, 2] > 180 and full[40, 230, 0] < 100
    assert full[60, 160, 2] > 180 and full[60, 160, 1] > 120
    crop = kinds["crop"]
    assert 60 <= crop["width"] < 320 and 50 <= crop["height"] < 240
    assert kinds["first_seen"]["media_s"] == 0.0 and kinds["full"]["media_s"] == 20.0


def test_bodies_follow_the_published_schema(tmp_path):
    validator = jsonschema_rs.validator_for(case_json_schema())
    run = Run(make_config([rule(re_report_s=10)]), tmp_path / "state.db")
    run.play(0, 40, [CAR])
    run.play(40, 60, [])
    assert [m.kind for m in run.messages] == ["new", "update", "cleared"]
    for message in run.messages:
        validator.validate(message.body)
        assert message.body["message_id"] == message.message_id
        assert message.body["location"]["grid_code"] == "310101001001001"
        assert message.body["source"] == "智能采集"


def test_severity_comes_from_the_rule_else_the_event_table(tmp_path):
    bicycle = rule(id="bikes", event_code="0506")
    fire_lane = rule(id="fire_lane", severity="urgent")
    run = Run(make_config([rule(), bicycle, fire_lane]), tmp_path / "state.db")
    run.play(0, 30, [CAR])
    by_rule = {m.body["rule"]["id"]: m.body["severity"] for m in run.messages}
    assert by_rule == {"r1": "normal", "bikes": "routine", "fire_lane": "urgent"}
    with pytest.raises(ConfigError, match="severity"):
        make_config([rule(severity="critical")])


def test_case_ids_are_reproducible_and_distinct(tmp_path):
    ids = []
    for name in ("a", "b"):
        run = Run(make_config([rule()]), tmp_path / f"{name}.db")
        run.play(0, 30, [CAR, VAN])
        ids.append(sorted(m.case_id for m in run.messages))
    assert ids[0] == ids[1] and len(set(ids[0])) == 2
    shifted = Run(make_config([rule()]), tmp_path / "c.db")
    shifted.play(0, 30, [CAR, VAN], epoch=EPOCH + 3600)
    assert not set(ids[0]) & {m.case_id for m in shifted.messages}
