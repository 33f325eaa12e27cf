"""Zone-cropped inference (`inference.crop_to_zones`): the bundled model, whose input size is dynamic,
runs only on the aligned window of its input that covers a camera's zones, on real vtest frames."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from case_parity import assert_same_decisions, decisions, iou
from scene_clips import vtest_frames

from edge.cases import models_for
from edge.config import EdgeConfig, InferenceConfig, ModelConfig, load_config
from edge.infer import InferenceEngine, load_detector
from edge.infer.preprocess import InputSpec
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import replay_clip
from edge.types import Detections, Frame
from edge.zones.geometry import points_in_zone

from conftest import MODEL, STREAMS

PARKING = (0.75, 0.0, 1.0, 0.31)  # the demo's no-parking zone (top right) with a 5% margin
VTEST_SIZE = (768, 576)
YOLOX = MODEL.parent / "yolox-nano-coco.onnx"


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


def with_model(config: EdgeConfig, path: Path) -> EdgeConfig:
    return config.model_copy(update={"models": [config.models[0].model_copy(update={"path": path})]})


def engine_result(model, image: np.ndarray) -> Detections:
    """What the shared loop with the default inference config gives for a frame submitted with a region."""
    engine = InferenceEngine({"coco": model}, InferenceConfig(staleness_s=3600))
    got: list[Detections] = []
    engine.start()
    frame = Frame("cam", image, 10.0, time.time(), 0)
    engine.submit(frame, ["coco"], lambda _, r: got.append(r["coco"]), region=PARKING)
    engine.stop(drain=True)
    [found] = got
    return found


def test_auto_crops_a_model_with_a_local_receptive_field_only(detector) -> None:
    """`crop_to_zones: auto` (the default) crops YOLOX, whose graph has no global pooling, and leaves the
    bundled CenterNet, whose squeeze-excite blocks pool over the whole input, on the whole frame."""
    yolox = load_detector(ModelConfig(id="coco", path=YOLOX))
    assert yolox.crop_safe and not detector.crop_safe
    image = vtest_frames(1.0)[10][1]
    for model, region in ((yolox, PARKING), (detector, None)):
        found = engine_result(model, image)
        [want] = model.detect([image], [region])
        assert len(found) == len(want) and np.allclose(found.xyxy, want.xyxy, atol=1e-3)
    assert len(yolox.detect([image])[0]) > len(engine_result(yolox, image)), "the crop leaves the walkers out"


def test_yolox_crop_keeps_the_cases_ids_times_and_boxes(tmp_path: Path) -> None:
    """With YOLOX the no-parking camera's window (a ninth of the input) gives the same cases, confirmed on
    the same frame, with boxes at IoU >= 0.9 (measured 0.987): the parity a saving must keep."""
    runs = {}
    for crop in (False, True):
        config = with_model(parking_only(load_config(STREAMS / "demo.yaml"), crop), YOLOX)
        detectors = load_detectors(config, models_for(config.cameras[0]))
        runs[crop] = replay_clip(config, STREAMS / "vtest.avi", tmp_path / str(crop), detectors=detectors).messages
    assert len(decisions(runs[False])) == 2
    assert_same_decisions(runs[False], runs[True], frame_s=0.5, min_iou=0.9)


def test_yolox_window_scores_in_zone_objects_as_the_whole_frame() -> None:
    """Raw detections whose anchor is in the no-parking zone: the window finds each one, at IoU >= 0.9
    and a score within 0.05 of the whole frame's (no pooling over the input carries the rest in)."""
    yolox = load_detector(ModelConfig(id="coco", path=YOLOX, score_threshold=0.3))
    zone = [(0.80, 0.04), (1.0, 0.04), (1.0, 0.26), (0.80, 0.26)]
    region = (0.70, 0.0, 1.0, 0.36)  # the zone widened by the default crop margin
    checked = 0
    for _, image in vtest_frames(0.25):
        whole, crop = yolox.detect([image, image], [None, region])
        in_zone = whole[points_in_zone(whole.bottom_center, zone, image.shape[1], image.shape[0])]
        for box, score, cls in zip(in_zone.xyxy, in_zone.confidence, in_zone.class_id, strict=True):
            overlaps = [iou(box, b) if c == cls else 0.0 for b, c in zip(crop.xyxy, crop.class_id, strict=True)]
            best = int(np.argmax(overlaps))
            assert overlaps[best] >= 0.9 and abs(crop.confidence[best] - score) <= 0.05, (box, score)
            checked += 1
    assert checked >= 40, "the parked van and car (both classes of the van) on every picture"
