"""Tracker: ids stay with objects across frames and short gaps, never jump between classes."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.config.tracking import TrackerConfig
from edge.track import Tracker
from edge.types import Detections
from edge.zones.geometry import greedy_match, suppress_overlaps, unmatched


def dets(boxes: list[tuple[float, float, float, float]], classes: list[int] | None = None) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, np.float32).reshape(n, 4), np.full(n, 0.8), classes or [0] * n)


def test_two_objects_keep_their_ids_while_moving():
    tracker = Tracker()
    seen = []
    for k in range(10):
        out = tracker.update(dets([(10 + 3 * k, 10, 40 + 3 * k, 80), (200 - 3 * k, 10, 230 - 3 * k, 80)]), k * 0.5)
        seen.append(out.tracker_id.tolist())
    assert all(ids == seen[0] for ids in seen) and len(set(seen[0])) == 2


def test_walking_person_at_low_frame_rate_keeps_its_id():
    tracker = Tracker()
    ids = set()
    for k in range(8):  # moves a whole box width (40 px) per analysed frame: IoU 0 between frames
        ids |= set(tracker.update(dets([(40 * k, 50, 40 * k + 40, 150)]), k * 0.5).tracker_id.tolist())
    assert len(ids) == 1


@pytest.mark.parametrize(("gap_s", "same"), [(1.5, True), (4.0, False)])
def test_track_survives_short_gaps_only(gap_s, same):
    tracker = Tracker(TrackerConfig(max_gap_s=3.0))
    first = tracker.update(dets([(10, 10, 50, 50)]), 0.0).tracker_id[0]
    tracker.update(Detections.empty(), gap_s / 2)
    again = tracker.update(dets([(12, 10, 52, 50)]), gap_s).tracker_id[0]
    assert bool(first == again) is same


def test_class_change_is_a_new_track_and_ids_never_repeat():
    tracker = Tracker()
    a = tracker.update(dets([(10, 10, 50, 50)], [2]), 0.0).tracker_id[0]
    b = tracker.update(dets([(10, 10, 50, 50)], [0]), 0.5).tracker_id[0]
    assert a != b
    tracker.update(dets([(10, 10, 50, 50)], [0]), 0.0)  # media time went back: a new session
    c = tracker.update(dets([(10, 10, 50, 50)], [0]), 0.5).tracker_id[0]
    assert c not in (a, b)


def test_empty_frames_and_bad_parameters():
    assert len(Tracker().update(Detections.empty(), 0.0)) == 0
    with pytest.raises(ValidationError, match="iou_threshold"):
        TrackerConfig(iou_threshold=0)


@pytest.mark.parametrize(
    ("score", "rows", "cols"),
    [
        ([[0.9, 0.8], [0.85, 0.3]], [0, 1], [0, 1]),  # best pair first, then what is left
        ([[0.9, 0.0], [0.95, 0.0]], [1], [0]),  # one column: the better row wins, the other stays unmatched
        ([[0.1, 0.05]], [], []),  # below the threshold
        (np.zeros((0, 3)), [], []),
    ],
)
def test_greedy_match_table(score, rows, cols):
    r, c = greedy_match(np.asarray(score, float), 0.2)
    assert sorted(zip(r.tolist(), c.tolist(), strict=True)) == sorted(zip(rows, cols, strict=True))
    assert unmatched(3, c).sum() == 3 - len(c)


def test_overlap_suppression_keeps_the_best_box_per_object():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert suppress_overlaps(boxes, np.array([0.4, 0.9, 0.5]), 0.5).tolist() == [1, 2]
