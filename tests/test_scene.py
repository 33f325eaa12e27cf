"""Scene model, static objects: real vtest footage with a box left on the ground and taken away.

Media time is the clip's own; frames are fed at 0.5-2 fps, as key-frame analysis would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scene_clips import (
    behind_walkers,
    dimmed,
    during,
    frames,
    passing_traffic,
    run,
    textured_box,
    with_patch,
)

from edge.config import ConfigError, parse_config
from edge.config.scene import SceneConfig
from edge.scene import SceneModel, SceneUpdate
from edge.types import Detections, Frame
from edge.zones.geometry import box_iou

NAMES = ["person", "suitcase"]
BOX = textured_box(90, 60)
GRASS_XY = (60, 420)  # on the lawn at the bottom left
ROAD_XY = (570, 240)  # on the road, where people walk
PLACED, REMOVED, STAY = 20.0, 55.0, 15.0


def config(**overrides: object) -> SceneConfig:
    return SceneConfig(enabled=True, static_after_s=STAY, **overrides)


def box_xyxy(xy: tuple[int, int]) -> np.ndarray:
    x, y = xy
    return np.array([[x, y, x + BOX.shape[1], y + BOX.shape[0]]], np.float32)


def objects_by_time(updates: list[tuple[float, SceneUpdate]]) -> dict[float, Detections]:
    return {t: u.static_objects for t, u in updates if len(u.static_objects)}


def assert_one_object(updates: list[tuple[float, SceneUpdate]], xy: tuple[int, int], step: float) -> Detections:
    """The box is one static object, from PLACED + STAY until REMOVED, where it was put."""
    seen = objects_by_time(updates)
    assert seen, "the box never became a static object"
    ids = {int(i) for d in seen.values() for i in d.data["object_id"]}
    assert len(ids) == 1, f"one box, several objects: {ids}"
    times = sorted(seen)
    assert PLACED + STAY - step <= times[0] <= PLACED + STAY + step
    assert times[-1] < REMOVED <= times[-1] + step, "the object must end when the box is taken away"
    all_times = [t for t, _ in updates]
    assert times == [t for t in all_times if times[0] <= t <= times[-1]], "the object came and went"
    last = seen[times[-1]]
    assert PLACED - step <= float(last.data["first_seen"][0]) <= PLACED + step
    assert box_iou(last.xyxy, box_xyxy(xy))[0, 0] >= 0.7
    frame_area = 768 * 576
    assert last.data["area_fraction"][0] == pytest.approx(BOX.shape[0] * BOX.shape[1] / frame_area, rel=0.35)
    assert np.array_equal(last.tracker_id, last.data["object_id"])
    return last


@pytest.mark.parametrize("fps", [0.5, 1.0, 2.0])
def test_box_left_on_the_lawn_is_one_static_object_until_taken_away(fps: float) -> None:
    edit = during(PLACED, REMOVED, lambda image: with_patch(image, BOX, *GRASS_XY))
    updates = run(SceneModel("cam", config()), frames(edit, fps=fps))
    last = assert_one_object(updates, GRASS_XY, 1.0 / fps)
    assert int(last.class_id[0]) == -1, "no detector box: class-agnostic"


def test_two_boxes_are_two_objects_each_ending_on_its_own() -> None:
    other_xy, other_until = (330, 480), 70.0

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if PLACED <= t < REMOVED:
            image = with_patch(image, BOX, *GRASS_XY)
        return with_patch(image, BOX, *other_xy) if 25.0 <= t < other_until else image

    seen = objects_by_time(run(SceneModel("cam", config()), frames(edit)))
    ids_at = {t: sorted(int(i) for i in d.data["object_id"]) for t, d in seen.items()}
    assert ids_at[50.0] == [1, 2]
    assert ids_at[60.0] == [2] and max(seen) == other_until - 1.0
    assert box_iou(seen[60.0].xyxy, box_xyxy(other_xy))[0, 0] >= 0.7


def test_a_pile_that_grows_stays_one_object_and_its_box_grows() -> None:
    """One case per pile: more material added beside it is the same object."""
    beside = (GRASS_XY[0] + BOX.shape[1], GRASS_XY[1])

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if PLACED <= t < REMOVED:
            image = with_patch(image, BOX, *GRASS_XY)
        return with_patch(image, BOX, *beside) if 35.0 <= t < REMOVED else image

    seen = objects_by_time(run(SceneModel("cam", config()), frames(edit)))
    assert {int(i) for d in seen.values() for i in d.data["object_id"]} == {1}
    both = np.array([[GRASS_XY[0], GRASS_XY[1], beside[0] + BOX.shape[1], beside[1] + BOX.shape[0]]], np.float32)
    assert box_iou(seen[54.0].xyxy, both)[0, 0] >= 0.7
    assert max(seen) <= REMOVED, "ends when taken away (a walker on the lawn may hold it one frame)"


def test_box_on_the_road_stays_one_object_while_people_walk_in_front_of_it() -> None:
    edit = during(PLACED, REMOVED, lambda image: behind_walkers(image, BOX, *ROAD_XY))
    updates = run(SceneModel("cam", config()), frames(edit, fps=2.0))
    assert_one_object(updates, ROAD_XY, 1.5)


def test_pedestrians_walking_give_no_static_objects() -> None:
    updates = run(SceneModel("cam", config()), frames(fps=2.0))
    assert [u.learning for _, u in updates].count(True) == 20, "10 s warm-up at 2 fps"
    assert objects_by_time(updates) == {}
    empty = updates[-1][1].static_objects
    assert set(empty.data) == {"object_id", "first_seen", "area_fraction"}, "columns are there even when empty"
    assert all(u.tamper.kind == "none" for _, u in updates)


def test_a_busy_lane_that_always_differs_but_never_stays_gives_none() -> None:
    lane = frames(lambda t, image: passing_traffic(image, t, 400, 300) if t >= 12.0 else image)
    updates = run(SceneModel("cam", config()), lane)
    assert objects_by_time(updates) == {}


def test_after_a_gap_in_the_frames_persistence_starts_again() -> None:
    """Nothing is known to have stayed through 10 s nobody watched."""
    edit = during(PLACED, REMOVED, lambda image: with_patch(image, BOX, *GRASS_XY))
    clip = (f for f in frames(edit) if not 25.0 <= f.media_time < 35.0)
    seen = objects_by_time(run(SceneModel("cam", config()), clip))
    assert seen and min(seen) >= 35.0 + STAY


def test_a_short_stop_is_not_a_static_object() -> None:
    edit = during(PLACED, PLACED + STAY - 5, lambda image: with_patch(image, BOX, *GRASS_XY))
    assert objects_by_time(run(SceneModel("cam", config()), frames(edit))) == {}


@pytest.mark.parametrize("final_gain", [0.4, 1.5])
def test_a_lighting_ramp_is_no_object_and_no_tamper(final_gain: float) -> None:
    def ramp(t: float, image: np.ndarray) -> np.ndarray:
        share = min(max((t - 15.0) / 30.0, 0.0), 1.0)  # 30 s from full light to final_gain
        return dimmed(image, 1.0 + share * (final_gain - 1.0))

    updates = run(SceneModel("cam", config()), frames(ramp))
    assert objects_by_time(updates) == {}
    assert all(u.tamper.kind == "none" for _, u in updates)


def test_a_box_left_while_the_light_fades_is_found_and_cleared() -> None:
    def fading(t: float, image: np.ndarray) -> np.ndarray:
        if PLACED <= t < REMOVED:
            image = with_patch(image, BOX, *GRASS_XY)
        return dimmed(image, 1.0 - 0.5 * min(max((t - 15.0) / 40.0, 0.0), 1.0))

    assert_one_object(run(SceneModel("cam", config()), frames(fading)), GRASS_XY, 1.0)


def test_something_that_was_there_from_the_start_and_leaves_is_no_object() -> None:
    """Its outline stays in the learned background (a ghost): absorbed, not reported."""
    edit = during(0.0, 30.0, lambda image: with_patch(image, BOX, *GRASS_XY))
    updates = run(SceneModel("cam", config()), frames(edit))
    assert objects_by_time(updates) == {}


def _detections_on_box(class_id: int, times: set[float] | None = None):
    def detections(t: float) -> Detections:
        if (times is not None and t not in times) or not PLACED <= t < REMOVED:
            return Detections.empty()
        return Detections(box_xyxy(GRASS_XY) + np.array([-4, -4, 4, 4], np.float32), [0.6], [class_id])

    return detections


@pytest.mark.parametrize(
    ("detections", "expected"),
    [
        (_detections_on_box(1), 1),  # a suitcase box on it all the time: a suitcase
        (_detections_on_box(0, {35.0, 36.0}), -1),  # someone passing by for two frames: still unnamed
    ],
    ids=["suitcase-all-along", "person-passing"],
)
def test_the_object_takes_the_class_of_a_detector_box_that_stays_on_it(detections, expected: int) -> None:
    edit = during(PLACED, REMOVED, lambda image: with_patch(image, BOX, *GRASS_XY))
    updates = run(SceneModel("cam", config()), frames(edit), detections, NAMES)
    last = assert_one_object(updates, GRASS_XY, 1.0)
    assert int(last.class_id[0]) == expected


def test_a_person_standing_still_is_not_reported() -> None:
    edit = during(PLACED, REMOVED, lambda image: with_patch(image, BOX, *GRASS_XY))
    updates = run(SceneModel("cam", config()), frames(edit), _detections_on_box(0), NAMES)
    assert objects_by_time(updates) == {}
    reported = run(SceneModel("cam", config(ignore_classes=[])), frames(edit), _detections_on_box(0), NAMES)
    assert {int(d.class_id[0]) for d in objects_by_time(reported).values()} == {0}


def test_the_object_keeps_its_id_when_the_source_clock_restarts() -> None:
    """After a reconnect media time starts again from 0: durations carry on, nothing is re-reported."""
    model = SceneModel("cam", config())
    clip = list(frames(lambda t, image: with_patch(image, BOX, *GRASS_XY) if t >= PLACED else image))
    before = run(model, iter(clip))
    restart = [Frame(f.camera_id, f.image, f.media_time - 60.0, f.wall_time) for f in clip if f.media_time >= 60.0]
    after = run(model, iter(restart))
    ids = {int(i) for d in objects_by_time(before + after).values() for i in d.data["object_id"]}
    assert len(ids) == 1
    last = after[-1][1].static_objects
    restarted_at = before[-1][0]  # the new clock's 0 is the old clock's last frame
    assert len(last) == 1 and float(last.data["first_seen"][0]) == pytest.approx(PLACED - restarted_at, abs=1.0)


def test_rebase_forgets_the_view_and_learns_it_again() -> None:
    model = SceneModel("cam", config())
    clip = list(frames(lambda t, image: with_patch(image, BOX, *GRASS_XY) if t >= PLACED else image))
    run(model, iter(c for c in clip if c.media_time < 50.0))
    assert len(model.update(clip[50], Detections.empty(), NAMES).static_objects) == 1
    model.rebase()
    after = run(model, iter(clip[51:]))
    assert [u.learning for _, u in after[:10]] == [True] * 10
    assert objects_by_time(after) == {}, "the box is part of the re-based view"


def test_a_new_resolution_is_learned_afresh() -> None:
    model = SceneModel("cam", config())
    clip = list(frames(end=30.0))
    run(model, iter(clip))
    half = Frame("cam", np.ascontiguousarray(clip[-1].image[::2, ::2]), 31.0, 31.0)
    assert model.update(half, Detections.empty(), NAMES).learning


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (Frame("cam", np.zeros((576, 768), np.uint8), 0.0, 0.0), r"\(H, W, 3\) uint8 BGR"),
        (Frame("cam", np.zeros((576, 768, 3), np.float32), 0.0, 0.0), "float32"),
        (Frame("cam", np.zeros((8, 8, 3), np.uint8), 0.0, 0.0), "too small"),
        (Frame("other", np.zeros((576, 768, 3), np.uint8), 0.0, 0.0), "camera 'other'"),
        (Frame("cam", np.zeros((576, 768, 3), np.uint8), float("nan"), 0.0), "media_time nan"),
    ],
)
def test_bad_frames_are_named(frame: Frame, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SceneModel("cam", config()).update(frame, Detections.empty(), NAMES)


def test_scene_config_mistakes_name_the_field() -> None:
    data = {"models": [{"id": "coco", "path": "m.onnx"}], "scene": {"diff_threshold": 0, "warmup": 5}}
    with pytest.raises(ConfigError) as error:
        parse_config(data, base_dir=Path("."))
    message = str(error.value)
    assert "scene.diff_threshold" in message and "scene.warmup" in message
