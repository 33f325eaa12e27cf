"""Zone-cropped inference (`inference.crop_to_zones`): the bundled model, whose input size is dynamic,
runs only on the aligned window of its input that covers a camera's zones, on real vtest frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from case_parity import decisions, iou
from scene_clips import vtest_frames

from edge.cases import models_for
from edge.config import EdgeConfig, ModelConfig, load_config
from edge.infer import load_detector
from edge.infer.preprocess import InputSpec
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import replay_clip

from conftest import MODEL, STREAMS

PARKING = (0.75, 0.0, 1.0, 0.31)  # the demo's no-parking zone (top right) with a 5% margin
VTEST_SIZE = (768, 576)


@pytest.fixture(scope="module")
def detector():
    return load_detector(ModelConfig(id="coco", path=MODEL))


def test_the_window_is_aligned_to_the_backbone_stride_and_covers_the_region(detector) -> None:
    assert detector.spec.windows, "the bundled model's height and width are dynamic"
    assert detector.spec.window(PARKING, VTEST_SIZE) == (384, 0, 512, 160)
    assert detector.spec.window((0.0, 0.0, 1.0, 1.0), VTEST_SIZE) is None  # the whole input: no window
    fixed = InputSpec("images", 512, 512, "nhwc", np.dtype(np.float32), 1.0, True, "plain")
    assert fixed.window(PARKING, VTEST_SIZE) is None, "a fixed-size model always sees the whole frame"


def test_a_window_finds_the_parked_vehicles_where_the_whole_frame_does_and_nothing_outside(detector) -> None:
    image = vtest_frames(1.0)[10][1]
    whole, cropped = detector.detect([image, image], [None, PARKING])
    height, width = image.shape[:2]
    left, bottom = 384 * width / 512, 160 * height / 512  # the window's corner in frame pixels
    centres = (cropped.xyxy[:, :2] + cropped.xyxy[:, 2:]) / 2
    assert len(cropped) and np.all((centres[:, 0] >= left) & (centres[:, 1] <= bottom))
    assert len(whole) > len(cropped), "the walkers on the plaza are not looked for"
    van = whole.xyxy[np.argmax([iou(b, (643, 41, 724, 98)) for b in whole.xyxy])]
    assert max(iou(van, b) for b in cropped.xyxy) >= 0.9, "the van's box is found in frame pixels"


def parking_only(config: EdgeConfig, crop: bool) -> EdgeConfig:
    camera = config.cameras[0]
    zones = [z for z in camera.zones if z.id == "no-parking-gate"]
    inference = config.inference.model_copy(update={"crop_to_zones": crop})
    return config.model_copy(update={"cameras": [camera.model_copy(update={"zones": zones})], "inference": inference})


def test_cropped_replay_opens_the_same_cases_at_the_same_times(tmp_path: Path) -> None:
    """The same two parked-vehicle cases, confirmed on the same frame; the boxes move a little
    (MobileNetV3 pools over its whole input, so a window scores and sizes objects a little
    differently: the car cut by the frame edge measured IoU 0.84-0.96 depending on the margin),
    which is why cropping ships off (docs/inference.md)."""
    runs = {}
    for crop in (False, True):
        config = parking_only(load_config(STREAMS / "demo.yaml"), crop)
        detectors = load_detectors(config, models_for(config.cameras[0]))
        result = replay_clip(config, STREAMS / "vtest.avi", tmp_path / str(crop), detectors=detectors)
        runs[crop] = decisions(result.messages)
    assert sorted(runs[True]) == sorted(runs[False]) and len(runs[False]) == 2
    for case_id, (whole,) in runs[False].items():
        (cropped,) = runs[True][case_id]
        assert cropped.body["times"] == whole.body["times"]
        assert iou(cropped.body["detection"]["box"], whole.body["detection"]["box"]) >= 0.8
