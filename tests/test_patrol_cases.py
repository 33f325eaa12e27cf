"""Patrol timing in the real case engine on a real SQLite file: visits a minute apart, a few pictures
each, the gap between them not counted as absence (docs/patrol.md)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from test_cases_support import CAR, VAN, Box, H, Run, W, make_config, rule

TIMING = {"min_duration_s": 180, "gap_allowance_s": 10, "clear_after_s": 90}


def patrol_run(tmp_path, revisit_s: float | None = 60, **fields) -> Run:
    analysis = {"mode": "patrol", "revisit_s": revisit_s}
    return Run(make_config([rule(**(TIMING | fields))], analysis=analysis), tmp_path / "state.db")


def visit(run: Run, t: float, boxes: Iterable[Box] = (), pictures: int = 2, resumed: bool = False) -> list:
    """One visit: `pictures` pictures half a second apart, then the visit's judgement."""
    run.engine.begin_visit(resumed)
    out = []
    for n in range(pictures):
        out += run.step(t + 0.5 * n, boxes)
    messages = run.engine.end_visit()
    run.messages += messages
    return out + messages


def test_a_car_seen_on_visits_a_minute_apart_is_one_case_from_the_first_visit(tmp_path):
    run = patrol_run(tmp_path)
    for t in (0, 60, 120):
        assert visit(run, t, [CAR], resumed=t == 0) == []  # 50 s gaps are far beyond gap_allowance_s
    (new,) = visit(run, 180, [CAR])
    assert new.kind == "new"
    times = new.body["times"]
    assert times["first_seen_media_s"] == 0.0 and times["confirmed_media_s"] == 180.0
    first_seen = new.pictures["01-first_seen.jpg"]  # from the first visit, held as JPEG between visits
    assert first_seen != new.pictures["01-full.jpg"]
    assert cv2.imdecode(np.frombuffer(first_seen, np.uint8), cv2.IMREAD_COLOR).shape == (H, W, 3)


def test_places_first_seen_in_one_picture_each_get_their_own_first_seen_picture(tmp_path):
    """The car and the van share the first visit's held JPEG, decoded once for both: each case's
    first-seen picture marks its own vehicle and leaves the other as the camera saw it."""
    run = patrol_run(tmp_path)
    for t in (0, 60, 120):
        visit(run, t, [CAR, VAN], resumed=t == 0)
    cases = {m.body["detection"]["class"]: m for m in visit(run, 180, [CAR, VAN]) if m.kind == "new"}
    assert set(cases) == {"car", "truck"}
    pictures = {
        name: cv2.imdecode(np.frombuffer(m.pictures["01-first_seen.jpg"], np.uint8), cv2.IMREAD_COLOR)
        for name, m in cases.items()
    }

    def red(image: np.ndarray, box: Box) -> bool:  # the middle of the box's left edge drawn in the case's red
        b, g, r = (int(v) for v in image[round((box[1] + box[3]) / 2), round(box[0])])
        return r > 150 and b < 100 and g < 100

    assert red(pictures["car"], CAR) and not red(pictures["car"], VAN)
    assert red(pictures["truck"], VAN) and not red(pictures["truck"], CAR)


def test_one_long_visit_never_confirms_a_case(tmp_path):
    """A case needs sightings on two visits, however long one visit looks."""
    run = patrol_run(tmp_path, revisit_s=None, min_duration_s=2, clear_after_s=30)
    run.engine.begin_visit(True)
    for n in range(10):  # 4.5 s of pictures in one visit: longer than min_duration_s
        assert run.step(0.5 * n, [CAR]) == []
    assert run.engine.end_visit() == []
    assert [m.kind for m in visit(run, 60, [CAR])] == ["new"]


def test_a_visit_that_misses_the_car_on_its_first_picture_keeps_it(tmp_path):
    run = patrol_run(tmp_path)
    visit(run, 0, [CAR], resumed=True)
    run.engine.begin_visit(False)
    run.step(60, [])  # a bus in front, or a missed detection: 60 s since the car was seen
    run.step(60.5, [CAR])
    run.engine.end_visit()
    visit(run, 120, [CAR])
    assert [m.kind for m in visit(run, 180, [CAR])] == ["new"]


def test_a_car_that_left_is_cleared_by_the_first_visit_after_clear_after_s(tmp_path):
    run = patrol_run(tmp_path)
    for t in (0, 60, 120, 180):
        visit(run, t, [CAR], resumed=t == 0)
    assert visit(run, 240, []) == []  # gone for 59.5 s: not yet clear_after_s (90)
    (cleared,) = visit(run, 300, [])
    assert cleared.kind == "cleared"
    assert any(name.endswith("after.jpg") for name in cleared.pictures)


def test_a_candidate_no_visit_sees_again_is_dropped(tmp_path):
    run = patrol_run(tmp_path)
    visit(run, 0, [CAR], resumed=True)
    assert run.engine.timing_candidates()
    visit(run, 60, [])  # the visit looked: gone for 60 s, more than gap_allowance_s
    assert not run.engine.timing_candidates()
    for t in (120, 180, 240):
        assert visit(run, t, [CAR]) == []  # timed again from 120: no case before 300


def test_failed_visits_are_not_absence(tmp_path):
    """Visits that saw nothing (the camera failed) prove no absence: the next one resumes the watch."""
    run = patrol_run(tmp_path)
    for t in (0, 60, 120, 180):
        visit(run, t, [CAR], resumed=t == 0)
    visit(run, 400, [], resumed=True)  # the camera failed from 240 to 360; this visit sees an empty view
    assert run.kinds()[-1][0] == "new"  # not cleared: absence counts from this visit's start
    (cleared,) = visit(run, 500, [])
    assert cleared.kind == "cleared"


def test_a_restart_mid_patrol_carries_the_candidate_into_the_same_case(tmp_path):
    straight = patrol_run(tmp_path / "straight")
    for t in (0, 60, 120, 180):
        visit(straight, t, [CAR], resumed=t == 0)
    (expected,) = [m for m in straight.messages if m.kind == "new"]
    straight.close()

    first = patrol_run(tmp_path / "restarted")
    visit(first, 0, [CAR], resumed=True)
    visit(first, 60, [CAR])
    first.close()  # the worker stops between two visits
    second = patrol_run(tmp_path / "restarted")
    visit(second, 120, [CAR], resumed=True)
    (new,) = visit(second, 180, [CAR])
    assert new.kind == "new" and new.case_id == expected.case_id
    assert new.body["times"]["first_seen_media_s"] == 0.0
    second.close()
