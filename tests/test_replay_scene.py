"""A tester's replay runs the live worker's pipeline: clutter rules, tamper pauses and device faults.

The clip is composited at test time from real vtest frames (looped to 115 s): a piece of litter lies
on the road from 15 s to 50 s (people walk in front of it), then the view is shifted (65-71 s),
covered (80-86 s) and blurred (95-101 s). The replay runs the real model, the scene model and the
rules exactly as `edge run` would, and writes what `edge replay` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from scene_clips import behind_walkers, blurred, covered, shifted, textured_box, write_clip

from edge.config import EdgeConfig, parse_config
from edge.runtime.pipeline import PipelineStep
from edge.runtime.replay import JsonLinesSink, ReplayResult, replay_clip

from conftest import DEMO_CONFIG

EPOCH = 1_767_571_200.0
LITTER, LITTER_XY = textured_box(60, 40, seed=3), (350, 330)  # on the road, in the walkers' path
LITTER_ON, LITTER_OFF = 15.0, 50.0
TAMPER = {"moved": (65.0, 71.0), "covered": (80.0, 86.0), "blurred": (95.0, 101.0)}
CONFIRM_S = 3.0  # scene.tamper_confirm_s default
ROAD = [[0.35, 0.5], [0.65, 0.5], [0.65, 0.75], [0.35, 0.75]]


def edit(t: float, image: np.ndarray) -> np.ndarray:
    if LITTER_ON <= t < LITTER_OFF:
        image = behind_walkers(image, LITTER, *LITTER_XY)
    views = {"moved": lambda i: shifted(i, 40, 20), "covered": covered, "blurred": blurred}
    for kind, (start, end) in TAMPER.items():
        if start <= t < end:
            image = views[kind](image)
    return image


def scene_config(clip: Path, storage: Path) -> dict:
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    camera = data["cameras"][0]
    camera["analysis"] = {"fps": 1}
    camera["source"]["url"] = str(clip)
    litter = {"id": "litter", "kind": "static_object", "event_code": "0102", "min_duration_s": 10, "clear_after_s": 5}
    camera["zones"] = [camera["zones"][0], {"id": "road", "polygon": ROAD, "rules": [litter]}]
    data["scene"] = {"enabled": True, "static_after_s": 10}
    data["storage"]["dir"] = str(storage)
    return data


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "litter-and-tamper.mp4", edit, fps=4.0, end=115.0)


@pytest.fixture(scope="module")
def replayed(scene_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReplayResult, list, Path]:
    run_dir = tmp_path_factory.mktemp("replay")
    config: EdgeConfig = parse_config(scene_config(scene_clip, run_dir / "var"), DEMO_CONFIG.parent)
    steps: list[tuple[float, bool]] = []

    def observe(step: PipelineStep) -> None:
        steps.append((step.frame.media_time, step.paused))

    result = replay_clip(config, scene_clip, run_dir, epoch=EPOCH, sink=JsonLinesSink(run_dir), observer=observe)
    return result, steps, run_dir


def street(result: ReplayResult) -> list:
    return [m for m in result.messages if m.body.get("type") != "device_fault"]


def test_litter_is_one_case_opened_after_its_dwell_and_cleared_with_an_after_picture(replayed) -> None:
    result, _, _ = replayed
    litter = [m for m in street(result) if m.body["rule"]["id"] == "litter"]
    assert [m.kind for m in litter] == ["new", "cleared"]
    new, cleared = litter
    assert new.case_id == cleared.case_id and new.body["event"]["code"] == "0102"
    times = new.body["times"]
    assert abs(times["first_seen_media_s"] - LITTER_ON) <= 1.0  # the scene model back-dates first sight
    assert times["confirmed_media_s"] >= times["first_seen_media_s"] + 10  # the rule's dwell
    x1, _, x2, y2 = new.body["detection"]["box"]
    assert abs(x1 - LITTER_XY[0]) < 12 and abs(x2 - (LITTER_XY[0] + 60)) < 12 and abs(y2 - (LITTER_XY[1] + 40)) < 12
    assert LITTER_OFF <= cleared.body["times"]["message_media_s"] < TAMPER["moved"][0]
    (after,) = [e for e in cleared.body["evidence"] if e["kind"] == "after"]
    picture = cv2.imdecode(np.frombuffer(cleared.pictures[after["name"]], np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (576, 768, 3)


def test_each_tamper_stretch_is_one_device_fault_and_pauses_the_zones(replayed) -> None:
    result, steps, _ = replayed
    faults = {}
    for m in result.faults:
        faults.setdefault(m.case_id, []).append(m)
    assert len(faults) == 3
    windows = []
    for (kind, (start, end)), messages in zip(TAMPER.items(), faults.values(), strict=True):
        assert [m.kind for m in messages] == ["new", "cleared"]
        opened, ended = (m.body["time_media_s"] for m in messages)
        assert messages[0].body["fault"]["kind"] == kind
        assert start < opened <= start + CONFIRM_S + 1 and end < ended <= end + CONFIRM_S + 1
        windows.append((opened, ended))
    paused = [t for t, p in steps if p]
    assert paused and all(any(a <= t < b for a, b in windows) for t in paused)
    assert all(any(t in paused for t, _ in steps if a <= t < b) for a, b in windows)
    assert not [m for m in street(result) if any(a <= m.body["times"]["message_media_s"] < b for a, b in windows)]


def test_the_shifted_view_opens_no_new_parked_vehicle_case(replayed) -> None:
    result, _, _ = replayed
    parked = [m for m in street(result) if m.body["event"]["code"] == "0505"]
    assert sorted((m.kind, m.body["detection"]["class"]) for m in parked) == [("new", "car"), ("new", "truck")]


def test_replay_output_lists_the_device_faults_beside_the_cases(replayed) -> None:
    result, _, run_dir = replayed
    lines = [json.loads(line) for line in (run_dir / "cases.jsonl").read_text().splitlines()]
    assert [line["message_id"] for line in lines] == [m.message_id for m in result.messages]
    kinds = sorted(line["body"]["fault"]["kind"] for line in lines if line["body"].get("type") == "device_fault")
    assert kinds == sorted(2 * list(TAMPER))
    assert all(Path(p).is_file() for line in lines for p in line["pictures"].values())
