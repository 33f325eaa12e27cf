"""Change-gated inference (edge/scene/change.py): the detector runs only where a zone changed, and what
the worker decides does not change. Scenes are composited from real vtest pieces (the empty road, the
parked white van, real people) and go through the real model and the real pipeline."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml
from case_parity import assert_same_decisions
from scene_clips import vtest_frames
from street_clips import SPOT, detector, empty_road, paste, people, play, van

from edge.config import EdgeConfig, parse_config
from edge.config.scene import ChangeGateConfig
from edge.runtime.pipeline import CameraPipeline
from edge.scene import ChangeGate, zone_regions
from edge.types import Frame

from conftest import DEMO_CONFIG

ROAD = [[0.0, 0.38], [1.0, 0.38], [1.0, 0.8], [0.0, 0.8]]
FPS = 2.0
ARRIVES, LEAVES = 4.0, 30.0


def config(storage: Path, gate: bool, privacy: bool = False) -> EdgeConfig:
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    rule = {"id": "parked", "kind": "dwell", "event_code": "0505", "classes": ["car", "truck", "bus"]}
    rule |= {"min_duration_s": 10, "gap_allowance_s": 6, "clear_after_s": 8}
    data["cameras"][0]["zones"] = [{"id": "road", "polygon": ROAD, "rules": [rule]}]
    data["storage"]["dir"] = str(storage)
    data["change_gate"] = {"enabled": gate}
    data["evidence"] = {"privacy": {"enabled": privacy}}
    return parse_config(data, DEMO_CONFIG.parent)


def van_parks_and_leaves(passer: np.ndarray) -> callable:
    """The empty road; the van parks at 4 s and leaves at 30 s; a person crosses in front of it at 12-14 s."""
    parked = paste(empty_road(), van(), SPOT[0], SPOT[1] + 30)

    def scene(t: float) -> np.ndarray:
        if not ARRIVES <= t < LEAVES:
            return empty_road()
        if 12.0 <= t < 14.0:
            x = SPOT[0] + int((t - 12.0) * 40)
            return paste(parked, passer, x, SPOT[1] + 120 - passer.shape[0])
        return parked

    return scene


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[list, list]]:
    """The same scene with the gate on and off: (messages, steps) each."""
    root = tmp_path_factory.mktemp("gate")
    passer = people(config(root, True), 1)[0]
    scene = van_parks_and_leaves(passer)
    return {gate: play(config(root / str(gate), gate), root / str(gate), scene, 50.0, FPS) for gate in (True, False)}


def test_a_van_that_parks_and_leaves_gives_the_same_case_with_the_gate_on_and_off(runs) -> None:
    (gated, gated_steps), (plain, plain_steps) = runs[True], runs[False]
    assert [m.kind for m in plain] == ["new", "cleared"], "the scene makes one case that clears"
    assert_same_decisions(plain, gated, frame_s=1 / FPS)
    reused = sum(s.reused for s in gated_steps)
    assert not any(s.reused for s in plain_steps)
    assert reused >= 0.6 * len(gated_steps), f"the detector still ran on {len(gated_steps) - reused} frames"


def test_the_gate_never_delays_confirmation_or_clearing(runs) -> None:
    """The frame the van arrives on and the frame it leaves on both run the detector."""
    gated_steps = runs[True][1]
    by_time = {s.frame.media_time: s for s in gated_steps}
    assert not by_time[ARRIVES].reused and not by_time[LEAVES].reused
    new, cleared = runs[True][0]
    plain_new, plain_cleared = runs[False][0]
    assert new.body["times"]["confirmed_media_s"] == plain_new.body["times"]["confirmed_media_s"]
    assert cleared.body["times"]["message_media_s"] == plain_cleared.body["times"]["message_media_s"]


def test_reused_detections_are_the_last_inferred_frames(runs) -> None:
    steps = runs[True][1]
    for before, step in itertools.pairwise(steps):
        if step.reused:
            np.testing.assert_array_equal(step.detections["coco"].xyxy, before.detections["coco"].xyxy)


def test_a_change_outside_every_zone_keeps_the_last_detections() -> None:
    road = empty_road()
    gate = ChangeGate(ChangeGateConfig(), zone_regions([[(0.0, 0.6), (0.4, 0.6), (0.4, 1.0), (0.0, 1.0)]], 0.05))
    assert gate.check(road, 0.0).reason == "reference"
    assert gate.check(road, 1.0).run is False
    top_right = paste(road, van(), 600, 20)  # far from the zone at the bottom left
    assert gate.check(top_right, 2.0).run is False
    in_zone = paste(road, van(), 40, 480)
    verdict = gate.check(in_zone, 3.0)
    assert verdict.run and verdict.reason == "changed" and verdict.changed_cells >= 20


def test_a_slow_change_adds_up_against_the_reference_and_an_old_answer_is_rechecked() -> None:
    road = empty_road().astype(np.int16)
    gate = ChangeGate(ChangeGateConfig(max_reuse_s=10.0), [])
    assert gate.check(road.astype(np.uint8), 0.0).run
    reasons = []
    for step in range(1, 8):  # dusk: 2 grey levels darker every frame, far under the threshold frame to frame
        reasons.append(gate.check(np.clip(road - 2 * step, 0, 255).astype(np.uint8), float(step)).reason)
    assert reasons[:4] == ["unchanged"] * 4 and "changed" in reasons
    still = road.astype(np.uint8)
    gate.reset()
    later = [gate.check(still, float(t)).reason for t in range(12)]
    assert later[0] == "reference" and later.count("aged") == 1 and later[10] == "aged"


def test_one_answer_stands_at_most_half_the_rules_shortest_tolerated_gap(tmp_path: Path) -> None:
    """The scene's rule rides over 6 s gaps: a detection missed on the reference frame stands for at most 3 s."""
    cfg = config(tmp_path, True)
    names = {"coco": detector(cfg).class_names}
    pipeline = CameraPipeline(cfg, "campus-north", tmp_path / "s.db", names, lambda m: None)
    try:
        road = empty_road()
        ran = [bool(pipeline.admit(Frame("campus-north", road, t / 2, t / 2, t)).models) for t in range(14)]
        assert ran == [True, False, False, False, False, False] * 2 + [True, False]
    finally:
        pipeline.close()
    gate = ChangeGate(ChangeGateConfig(max_reuse_s=10.0), [], tolerance_s=0.0)  # a rule with no gap allowance
    assert all(gate.check(road, float(t)).run for t in range(5))


def test_real_pedestrians_in_a_zone_always_run_the_detector() -> None:
    """On the bundled clip people cross the plaza band in every frame: nothing there is reused."""
    gate = ChangeGate(ChangeGateConfig(), zone_regions([[(0.0, 0.3), (1.0, 0.3), (1.0, 0.85), (0.0, 0.85)]], 0.05))
    verdicts = [gate.check(image, t) for t, image in vtest_frames(1.0)]
    assert all(v.run for v in verdicts)


def test_privacy_watches_the_whole_frame(tmp_path: Path) -> None:
    """Bystanders anywhere must be blurred where they are now: with privacy on, a change anywhere runs the detector."""
    cfg = config(tmp_path, True, privacy=True)
    pipeline = CameraPipeline(
        cfg, "campus-north", tmp_path / "s.db", {"coco": detector(cfg).class_names}, lambda m: None
    )
    try:
        road = empty_road()
        assert pipeline.admit(Frame("campus-north", road, 0.0, 0.0, 0)).models == ["coco"]
        assert pipeline.admit(Frame("campus-north", road, 0.5, 0.5, 1)).models == []
        outside = paste(road, van(), 600, 20)  # above the road zone
        assert pipeline.admit(Frame("campus-north", outside, 1.0, 1.0, 2)).models == ["coco"]
    finally:
        pipeline.close()
