"""A dwell counts only while the same physical object stays: street scenes composited from real vtest
pieces (people, the white van, the empty road) and analysed by the real model and pipeline.

Each scene is also replayed with the same-object checks switched off (`min_presence`,
`min_continuity`, `min_similarity` at 0: the old behaviour, where any sighting at the spot kept a
dwell alive) to show that the scene does fool a rule that lacks them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from street_clips import SPOT, empty_road, paste, people, play, van

from edge.cases.appearance import SCALE, SIZE, FrameLooks, signatures, similarity
from edge.cases.lifecycle import Timing, candidate_decisions
from edge.cases.observe import Observation
from edge.cases.places import same_object, still_there
from edge.cases.state import Places
from edge.config import EdgeConfig, RuleConfig, parse_config
from edge.types import Detections

from conftest import DEMO_CONFIG

ROAD = [[0.0, 0.38], [1.0, 0.38], [1.0, 0.8], [0.0, 0.8]]
UNCHECKED = {"min_presence": 0.0, "min_continuity": 0.0, "min_similarity": 0.0}


def config(storage: Path, rules: list[dict]) -> EdgeConfig:
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    data["cameras"][0]["zones"] = [{"id": "road", "polygon": ROAD, "rules": rules}]
    data["storage"]["dir"] = str(storage)
    return parse_config(data, DEMO_CONFIG.parent)


def loitering(**fields) -> dict:
    base = {"id": "loiter", "kind": "dwell", "event_code": "0501", "classes": ["person"], "min_duration_s": 10}
    return base | {"gap_allowance_s": 10, "clear_after_s": 30} | fields


def parked(**fields) -> dict:
    base = {"id": "parked", "kind": "dwell", "event_code": "0505", "classes": ["car", "truck", "bus"]}
    return base | {"min_duration_s": 10, "gap_allowance_s": 10, "clear_after_s": 30} | fields


def standing(patch: np.ndarray, x: int = SPOT[0], bottom: int = SPOT[1] + 90) -> tuple[np.ndarray, int, int]:
    return patch, x, bottom - patch.shape[0]


def new_cases(messages) -> list:
    return [m for m in messages if m.kind == "new"]


def test_a_stream_of_different_passers_by_through_one_spot_is_no_case(tmp_path: Path) -> None:
    """Every 2 s (well inside the 10 s gap allowance) another person holds the same spot for 1 s."""
    walkers = people(config(tmp_path, []), 8)

    def scene(t: float) -> np.ndarray:
        if t % 2.0 < 1.0:
            return paste(empty_road(), *standing(walkers[int(t // 2) % len(walkers)]))
        return empty_road()

    messages, steps = play(config(tmp_path / "a", [loitering()]), tmp_path / "a", scene, 40.0)
    seen = sum(bool(len(s.detections["coco"][s.detections["coco"].class_id == 0])) for s in steps)
    assert seen >= 30, "the detector sees the passers-by (the scene is not empty)"
    assert new_cases(messages) == []
    unchecked, _ = play(config(tmp_path / "b", [loitering(**UNCHECKED)]), tmp_path / "b", scene, 40.0)
    assert len(new_cases(unchecked)) >= 1, "without the same-object checks the stream builds a case"


def occluded_van(walkers) -> callable:
    """The van parked on the road from 0 s; a passer-by stands in front of it in 3 frames of 8 (37 %)."""
    parked_van = paste(empty_road(), van(), SPOT[0], SPOT[1] + 30)

    def scene(t: float) -> np.ndarray:
        frame_number = round(t * 2)
        if frame_number % 8 in (1, 4, 6):
            walker = walkers[frame_number % len(walkers)]
            return paste(parked_van, *standing(walker, SPOT[0] + 10, SPOT[1] + 30 + van().shape[0] + 8))
        return parked_van

    return scene


def test_a_parked_van_behind_passers_by_is_exactly_one_case(tmp_path: Path) -> None:
    walkers = people(config(tmp_path, []), 6)
    messages, _ = play(config(tmp_path, [parked()]), tmp_path, occluded_van(walkers), 45.0)
    assert [m.kind for m in messages] == ["new"]
    times = messages[0].body["times"]
    assert times["first_seen_media_s"] <= 1.0 and 10.0 <= times["confirmed_media_s"] <= 12.0


def test_forced_tracker_id_switches_do_not_split_the_van(tmp_path: Path) -> None:
    """A tracker that gives a new id on every frame (no overlap is ever good enough): still one case."""
    walkers = people(config(tmp_path, []), 6)
    switching = {"iou_threshold": 1.0, "max_distance": 0.0, "max_gap_s": 0.0}
    messages, steps = play(config(tmp_path, [parked()]), tmp_path, occluded_van(walkers), 45.0, tracker=switching)
    vehicles = [s.detections["coco"][np.isin(s.detections["coco"].class_id, [2, 5, 7])] for s in steps]
    ids = {int(i) for d in vehicles for i in d.tracker_id}
    assert len(ids) >= 40, "the tracker really switched ids"
    assert [m.kind for m in messages] == ["new"]


def recoloured(patch: np.ndarray) -> np.ndarray:
    """Another vehicle of the same shape: the van's colours turned around (a dark red one)."""
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
    hsv[..., 1] = 200
    hsv[..., 2] = (hsv[..., 2] * 0.5).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def test_first_seen_picture_shows_the_object_that_stayed_not_the_one_that_passed(tmp_path: Path) -> None:
    """A red vehicle stops at the spot for 1.5 s, 2 s later the van parks there: the case is the van's."""
    passing, staying = recoloured(van()), van()

    def scene(t: float) -> np.ndarray:
        if t < 1.5:
            return paste(empty_road(), passing, SPOT[0], SPOT[1] + 30)
        if t >= 3.5:
            return paste(empty_road(), staying, SPOT[0], SPOT[1] + 30)
        return empty_road()

    messages, _ = play(config(tmp_path / "a", [parked()]), tmp_path / "a", scene, 30.0)
    (new,) = new_cases(messages)
    assert new.body["times"]["first_seen_media_s"] >= 3.5
    box = np.array([new.body["detection"]["box"]])
    first = [e["name"] for e in new.body["evidence"] if e["kind"] == "first_seen"]
    full = [e["name"] for e in new.body["evidence"] if e["kind"] == "full"]
    pictures = {n: cv2.imdecode(np.frombuffer(new.pictures[n], np.uint8), cv2.IMREAD_COLOR) for n in first + full}
    first_look, full_look = (signatures(pictures[n], box) for n in (first[0], full[0]))
    passer_look = signatures(paste(empty_road(), passing, SPOT[0], SPOT[1] + 30), box)
    assert similarity(first_look, full_look)[0] > 0.8  # the first-seen crop is the confirmed van
    assert similarity(first_look, passer_look)[0] < 0.6

    unchecked, _ = play(config(tmp_path / "b", [parked(**UNCHECKED)]), tmp_path / "b", scene, 30.0)
    assert new_cases(unchecked)[0].body["times"]["first_seen_media_s"] < 1.5, "the old way: the passer's picture"


def test_pedestrians_passing_a_parked_van_are_no_group_but_one_who_stays_is(tmp_path: Path) -> None:
    """Combination 'person next to a vehicle' (vending from a van): the same person must stay."""
    walkers = people(config(tmp_path, []), 8)
    parked_van = paste(empty_road(), van(), SPOT[0], SPOT[1] + 30)
    beside = SPOT[0] + van().shape[1] + 2, SPOT[1] + 30 + van().shape[0] + 10
    group = {"id": "vending", "kind": "combination", "event_code": "0501", "groups": [["person"], ["truck", "car"]]}
    rule = group | {"min_duration_s": 10, "gap_allowance_s": 10, "clear_after_s": 30}

    def passing(t: float) -> np.ndarray:
        walker = walkers[int(t // 2) % len(walkers)]
        return paste(parked_van, *standing(walker, *beside)) if t % 2.0 < 1.0 else parked_van

    messages, _ = play(config(tmp_path / "a", [rule]), tmp_path / "a", passing, 40.0)
    assert new_cases(messages) == []

    def vendor(t: float) -> np.ndarray:
        return paste(parked_van, *standing(walkers[0], *beside))

    messages, _ = play(config(tmp_path / "b", [rule]), tmp_path / "b", vendor, 25.0)
    assert [m.kind for m in messages] == ["new"]


def observation(box: list[float]) -> Observation:
    return Observation(np.array([box], np.float32), np.ones(1), ["x"], Detections.empty(), np.full(1, -1), np.zeros(1))


def look_at(similar: float) -> np.ndarray:
    """A signature whose similarity to all-zero cells is `similar` (mean Lab distance -SCALE ln s)."""
    looks = np.zeros((1, SIZE), np.float32)
    looks[0, 0::3] = -SCALE * np.log(similar)
    return looks


@pytest.mark.parametrize(
    ("iou", "similar", "min_continuity", "min_similarity", "same"),
    [
        (0.9, 0.95, 0.4, 0.6, True),  # one object seen again
        (0.41, 0.61, 0.4, 0.6, True),  # just inside both bounds
        (0.39, 0.95, 0.4, 0.6, False),  # its box jumped: not a continuation
        (0.9, 0.59, 0.4, 0.6, False),  # another object at the same place (a passer-by)
        (0.2, 0.3, 0.0, 0.0, True),  # checks switched off: any sighting continues
    ],
)
def test_same_object_decision_table(iou, similar, min_continuity, min_similarity, same) -> None:
    place = Places(box=np.array([[0.0, 0.0, 100.0, 100.0]]), look=np.zeros((1, SIZE), np.float32))
    obs = observation([0.0, 0.0, 100.0, 100.0 * iou])  # inside the place's box: IoU = iou
    rule = RuleConfig(id="r", event_code="0505", min_continuity=min_continuity, min_similarity=min_similarity)
    assert bool(same_object(place, obs, look_at(similar), rule)[0, 0]) is same


def test_looks_are_judged_only_where_the_caller_needs_them_and_as_the_full_table_would() -> None:
    """`same_object(where=...)` compares looks pair by pair: the same answers as the full table inside
    `where`, False outside; `FrameLooks` gives a box seen by two rules the signature it gave the first."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (240, 320, 3), np.uint8)
    boxes = np.array([[10, 10, 60, 90], [50, 20, 110, 100], [200, 100, 260, 200], [12, 8, 62, 92]], np.float64)
    looks = FrameLooks(image)
    first = looks.of(boxes[:2])
    both = looks.of(boxes[[1, 3, 0, 2]])  # two boxes it has, two it has not
    np.testing.assert_array_equal(both, signatures(image, boxes[[1, 3, 0, 2]]))
    np.testing.assert_array_equal(both[[2, 0]], first)
    table = similarity(both[:, None], both[None])
    np.testing.assert_array_equal(similarity(both, both[[1, 2, 3, 0]]), table[[0, 1, 2, 3], [1, 2, 3, 0]])
    places = Places(box=boxes[[1, 3, 0, 2]].copy(), look=both)
    obs = Observation(boxes.astype(np.float32), np.ones(4), ["x"] * 4, Detections.empty(), np.full(4, -1), np.zeros(4))
    rule = RuleConfig(id="r", event_code="0505", min_continuity=0.3, min_similarity=0.6)
    full = same_object(places, obs, looks.of(boxes), rule)
    where = np.zeros((4, 4), bool)
    where[[0, 1, 3], [1, 3, 0]] = True
    np.testing.assert_array_equal(same_object(places, obs, looks.of(boxes), rule, where=where), full & where)
    assert full.any() and (full & ~where).any()  # both sides of `where` are exercised


@pytest.mark.parametrize(
    ("presence", "dwell_s", "confirm"),
    [
        (1.0, 20.0, True),  # a parked car, always seen
        (0.5, 20.0, True),  # half the frames (passers-by in front, missed detections): still there
        (0.49, 20.0, False),  # seen in fewer than half the frames since first sight
        (0.15, 40.0, False),  # a spot that passers-by hold now and then, however long
        (1.0, 19.5, False),  # not long enough yet
    ],
)
def test_presence_decision_table(presence, dwell_s, confirm) -> None:
    timing = Timing(20.0, 10.0, 30.0, 0.0, 0.0, min_presence=0.5)
    now = 100.0
    _, confirmed = candidate_decisions(
        now, np.array([now - dwell_s]), np.array([now]), np.array([False]), timing, presence=np.array([presence])
    )
    assert bool(confirmed[0]) is confirm


@pytest.mark.parametrize(
    ("previous", "current", "share", "continues"),
    [
        ([[0, 0, 10, 10], [20, 0, 30, 10]], [[0, 0, 10, 10], [20, 0, 30, 10]], 0.4, True),  # a group standing
        ([[0, 0, 10, 10], [20, 0, 30, 10]], [[1, 0, 11, 10], [60, 0, 70, 10]], 0.4, True),  # one of two moved on
        ([[0, 0, 10, 10], [20, 0, 30, 10]], [[40, 0, 50, 10], [60, 0, 70, 10]], 0.4, False),  # all new: a flow
        ([], [[0, 0, 10, 10]], 0.4, False),  # nothing to continue from
        ([[0, 0, 10, 10]], [], 0.4, False),  # nobody left
    ],
)
def test_zone_level_rules_continue_only_while_the_counted_objects_stay(previous, current, share, continues) -> None:
    as_boxes = lambda rows: np.array(rows, np.float64).reshape(-1, 4)  # noqa: E731
    assert still_there(as_boxes(previous), as_boxes(current), share) is continues
