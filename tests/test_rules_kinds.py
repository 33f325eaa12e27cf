"""Every rule kind on scripted detections: dwell variants, count, occupancy, combination, static
objects; the event table's default classes; rule problems named at start-up."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_cases_support import CAR, Run, detections, frame, make_config, rule

from edge.cases import CaseEngine, CaseStore
from edge.config import ConfigError
from edge.config.events import DEFAULT_EVENTS, EventType, merge_events
from edge.types import Detections

BIKES = [(170 + 35 * i, 60, 195 + 35 * i, 100, "bicycle", 0.6) for i in range(4)]


def test_count_rule_needs_enough_objects_for_long_enough(tmp_path):
    bikes = rule(kind="count", event_code="0506", classes=["bicycle"], min_count=3, min_duration_s=10)
    run = Run(make_config([bikes]), tmp_path / "state.db")
    run.play(0, 30, BIKES[:2])  # two bikes: fine
    assert run.messages == []
    run.play(30, 45, BIKES[:3])
    run.play(45, 60, BIKES[:2])  # one leaves: below the count, cleared after 10 s
    assert [m.kind for m in run.messages] == ["new", "cleared"]
    body = run.messages[0].body
    assert body["detection"]["measure"] == 3.0 and body["detection"]["class"] == "3 x bicycle"
    assert body["rule"]["case_per"] == "zone" and body["times"]["first_seen_media_s"] == 30.0


def test_count_rule_on_an_empty_zone_says_nothing(tmp_path):
    """No object in the zone: no case, and no warning (the suite turns warnings into errors)."""
    bikes = rule(kind="count", event_code="0506", classes=["bicycle"], min_count=1, min_duration_s=5)
    run = Run(make_config([bikes]), tmp_path / "state.db")
    run.play(0, 10)
    run.play(10, 20, BIKES[:1])
    assert [m.kind for m in run.messages] == ["new"]


def test_count_rule_tolerates_a_missed_detection(tmp_path):
    bikes = rule(kind="count", event_code="0506", classes=["bicycle"], min_count=3, min_duration_s=10)
    run = Run(make_config([bikes]), tmp_path / "state.db")
    for k, t in enumerate(np.arange(0, 20, 0.5)):
        run.step(float(t), BIKES[:3] if k % 4 else BIKES[:2])  # every 4th frame one bike is missed
    assert [m.kind for m in run.messages] == ["new"]


def test_occupancy_rule_measures_covered_zone_area(tmp_path):
    clutter = rule(kind="occupancy", event_code="0507", classes=["suitcase"], min_coverage=0.3, min_duration_s=10)
    names = ["person", "car", "suitcase"]
    config = make_config([clutter])
    engine = CaseEngine(config, "cam1", CaseStore(tmp_path / "state.db"), {"coco": names})
    small = Detections(np.array([[170, 10, 210, 50]]), [0.7], [2])  # 1600 px of the zone's ~19 000
    big = Detections(np.array([[170, 10, 250, 90]]), [0.7], [2])  # ~6400 px: a third of the zone
    messages = []
    for t in np.arange(0, 30, 0.5):
        messages += engine.process(frame(float(t)), {"coco": small if t < 15 else big})
    assert [m.kind for m in messages] == ["new"]
    assert messages[0].body["times"]["first_seen_media_s"] == 15.0
    assert messages[0].body["detection"]["measure"] == pytest.approx(0.33, abs=0.02)


STALL = rule(
    id="stall",
    kind="combination",
    event_code="0501",
    classes=[],
    groups=[["person"], ["umbrella", "chair", "dining table"]],
    min_duration_s=20,
)


@pytest.mark.parametrize(
    ("scene", "cases"),
    [
        ([(200, 40, 225, 100, "person", 0.7), (228, 60, 260, 100, "chair", 0.5)], 1),  # vendor and chair
        ([(200, 40, 225, 100, "person", 0.7), (180, 20, 250, 50, "umbrella", 0.5)], 1),  # under an umbrella
        ([(200, 40, 225, 100, "person", 0.7)], 0),  # a person alone waits for a bus
        ([(170, 40, 190, 100, "person", 0.7), (290, 80, 315, 110, "chair", 0.5)], 0),  # far apart
        ([(228, 60, 260, 100, "chair", 0.5), (180, 20, 250, 50, "umbrella", 0.5)], 0),  # no one there
    ],
)
def test_combination_needs_every_group_together(tmp_path, scene, cases):
    run = Run(make_config([STALL]), tmp_path / "state.db")
    run.play(0, 30, scene)
    assert len(run.messages) == cases
    if cases:
        body = run.messages[0].body
        assert body["detection"]["class"] == "person+umbrella/chair/dining table"
        x1, _, x2, y2 = body["detection"]["box"]
        assert x1 <= 200 and x2 >= 225 and y2 == 100  # the box covers the whole group


def test_combination_walking_past_a_chair_is_not_a_stall(tmp_path):
    run = Run(make_config([STALL]), tmp_path / "state.db")
    chair = (228, 60, 260, 100, "chair", 0.5)
    for k, t in enumerate(np.arange(0, 40, 0.5)):
        x = 160 + 3 * k  # a slow stroll: 6 px/s
        run.step(float(t), [(x, 40, x + 25, 100, "person", 0.7), chair])
    assert run.messages == []


def test_static_object_rule_counts_from_when_the_object_appeared(tmp_path):
    piles = rule(id="piles", kind="static_object", event_code="0507", classes=[], min_duration_s=60)
    run = Run(make_config([piles]), tmp_path / "state.db")
    pile = Detections(
        np.array([[200, 60, 240, 100]]), [0.9], [-1], [7], {"object_id": np.array([7]), "first_seen": np.array([5.0])}
    )
    for t in np.arange(35, 70, 0.5):  # reported after 30 s of standing still, appeared at 5 s
        run.step(float(t), [CAR], static=pile)
    assert [m.kind for m in run.messages] == ["new"]
    body = run.messages[0].body
    assert body["times"]["first_seen_media_s"] == 5.0 and body["times"]["confirmed_media_s"] == 65.0
    assert body["detection"]["class"] == "object" and body["model"]["id"] == "scene"


def static(class_id: int, object_id: int, x: float) -> Detections:
    """One scene-model object on the zone, standing since media time 0."""
    data = {"object_id": np.array([object_id]), "first_seen": np.array([0.0])}
    return Detections(np.array([[x, 60, x + 40, 100]]), [0.9], [class_id], [object_id], data)


@pytest.mark.parametrize(
    ("classes", "reported"),
    [([], ["object"]), (["car"], ["car"]), (["object", "car"], ["object", "car"])],
    ids=["default-class-agnostic", "car-only", "both"],
)
def test_static_object_rule_counts_class_agnostic_objects_unless_told_otherwise(tmp_path, classes, reported):
    """A car the detector explains is a parked car (0505), not also 'piled materials' (0507)."""
    piles = rule(id="piles", kind="static_object", event_code="0507", classes=classes, min_duration_s=10)
    run = Run(make_config([piles]), tmp_path / "state.db")
    pile, car = static(-1, 1, 150), static(2, 2, 250)  # 2: "car"
    both = Detections.concat([pile, car])
    for t in np.arange(0, 20, 0.5):
        run.step(float(t), static=both)
    assert sorted(m.body["detection"]["class"] for m in run.messages) == sorted(reported)


def test_min_box_fraction_and_min_score_filter_objects(tmp_path):
    run = Run(make_config([rule(min_box_fraction=0.03, min_score=0.5)]), tmp_path / "state.db")
    tiny = (200, 80, 215, 90, "car", 0.9)  # 150 px: 0.2 % of the frame
    weak = (250, 40, 300, 100, "car", 0.45)
    run.play(0, 30, [tiny, weak])
    assert run.messages == []
    run.play(30, 60, [CAR])
    assert len(run.messages) == 1


def test_rule_without_classes_counts_its_events_default_classes(tmp_path):
    run = Run(make_config([rule(classes=[])]), tmp_path / "state.db")  # 0505 -> car, truck, bus
    run.play(0, 25, [(200, 40, 260, 90, "bus", 0.6)])
    assert len(run.messages) == 1


def test_city_can_override_the_default_mapping():
    table = merge_events([EventType(code="0505", name="违停 parking", default_classes=["car"])])
    assert next(e for e in table if e.code == "0505").default_classes == ["car"]
    assert len(table) == len(DEFAULT_EVENTS)
    assert [e.code for e in merge_events([EventType(code="0901", name="x")])][-1] == "0901"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"classes": ["spaceship"]}, "has no classes ['spaceship']"),
        ({"event_code": "0511", "classes": []}, "event 0511 has no default classes"),
        ({"kind": "static_object", "classes": ["pile"]}, "has no classes ['pile']"),
    ],
)
def test_rule_problems_are_named_at_start(tmp_path, fields, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        Run(make_config([rule(**fields)]), tmp_path / "state.db")


def test_unknown_camera_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no camera 'nope'"):
        CaseEngine(make_config([rule()]), "nope", CaseStore(tmp_path / "s.db"), {"coco": ["car"]})


def test_dwell_rule_for_the_whole_model_ignores_other_models(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    for t in np.arange(0, 30, 0.5):
        run.messages += run.engine.process(frame(float(t)), {"other": detections([CAR])})
    assert run.messages == []
