"""The bundled YOLOX-Nano on real frames of streams/vtest.avi: format detection, decoding, batch and size."""

from __future__ import annotations

import numpy as np
import pytest
from case_parity import iou
from scene_clips import vtest_frame_at

from edge.config import ModelConfig
from edge.infer import Detector, load_detector
from edge.infer.errors import ModelError

from conftest import REPO

YOLOX = REPO / "models" / "yolox-nano-coco.onnx"
THRESHOLD = 0.3
VAN, CAR = (651, 42, 725, 99), (732, 51, 767, 94)  # parked at the top right for the whole clip
WALKERS = [(346, 197, 379, 275), (588, 154, 620, 236), (494, 147, 517, 218), (377, 178, 408, 256)]  # at 10 s


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(ModelConfig(id="coco", path=YOLOX, score_threshold=THRESHOLD))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [vtest_frame_at(t) for t in (10.0, 30.0, 50.0)]


def best(det, names: list[str], box: tuple[float, ...], classes: set[str]) -> tuple[float, float]:
    """(IoU, score) of the detection of `classes` that overlaps `box` most."""
    keep = np.flatnonzero(np.isin(np.array(names)[det.class_id], list(classes)))
    if not len(keep):
        return 0.0, 0.0
    overlaps = [iou(box, det.xyxy[i]) for i in keep]
    at = int(np.argmax(overlaps))
    return overlaps[at], float(det.confidence[keep[at]])


def test_the_format_and_its_input_are_recognised_from_the_model(detector: Detector) -> None:
    assert detector.format == "yolox"
    assert len(detector.class_names) == 80 and detector.class_names[:3] == ["person", "bicycle", "car"]
    assert detector.max_batch > 1, "the batch was made dynamic"
    spec = detector.spec
    assert (spec.width, spec.height, spec.layout) == (416, 416, "nchw"), "imgsz metadata gives the trained size"
    assert spec.windows, "height and width are dynamic: zone windows work"
    assert (spec.rgb, spec.resize, spec.scale) == (False, "letterbox_top_left", 1.0), "BGR 0..255, top-left letterbox"


def test_parked_vehicles_and_walkers_on_a_real_frame(detector: Detector, frames) -> None:
    [det] = detector.detect([frames[0]])
    names = detector.class_names
    van_iou, van_score = best(det, names, VAN, {"truck", "car"})
    car_iou, car_score = best(det, names, CAR, {"car"})
    assert van_iou > 0.85 and van_score > 0.6
    assert car_iou > 0.85 and car_score > 0.6
    for walker in WALKERS:
        assert best(det, names, walker, {"person"})[0] > 0.7, walker
    assert (det.confidence >= THRESHOLD).all()
    assert det.confidence.tolist() == sorted(det.confidence.tolist(), reverse=True)


def test_decoding_matches_the_model_card(detector: Detector, frames) -> None:
    """The vectorised decoder against YOLOX's decoding written plainly, row by row, for each image."""
    tensor, geometry = detector.preprocess(frames)
    [raw] = detector.run(tensor)
    scale = 416 / 768  # 768 x 576 letterboxed into the top-left corner of 416 x 416
    levels = [(s, 416 // s) for s in (8, 16, 32)]
    for n, det in enumerate(detector.postprocess([raw], geometry)):
        rows = []
        first = 0
        for stride, cells in levels:
            for i in range(cells * cells):
                dx, dy, lw, lh, obj, *cls = raw[n, first + i]
                c = int(np.argmax(cls))
                score = obj * cls[c]
                if score >= THRESHOLD:
                    gy, gx = divmod(i, cells)
                    cx, cy, w, h = (dx + gx) * stride, (dy + gy) * stride, np.exp(lw) * stride, np.exp(lh) * stride
                    box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) / scale
                    rows.append((c, score, np.clip(box, 0, [768, 576, 768, 576])))
            first += cells * cells
        for c, score, box in rows:  # every candidate is kept, or suppressed by a better box of its class
            same = det.class_id == c
            overlaps = [iou(box, b) for b in det.xyxy[same]]
            assert max(overlaps, default=0) > 0.999 or any(
                o > 0.45 and s >= score for o, s in zip(overlaps, det.confidence[same], strict=True)
            )
        assert len(det) <= len(rows) and len(det) > 5


def test_boxes_follow_the_frame_size(detector: Detector, frames) -> None:
    """A half-size copy of the frame gives the vehicles at half the coordinates."""
    [det] = detector.detect([np.ascontiguousarray(frames[0][::2, ::2])])
    assert best(det, detector.class_names, tuple(v / 2 for v in VAN), {"truck", "car"})[0] > 0.8
    assert (det.xyxy[:, [0, 2]] <= 384).all() and (det.xyxy[:, [1, 3]] <= 288).all()


def test_a_batch_of_frames_and_windows_equals_single_runs(detector: Detector, frames) -> None:
    images = [frames[0], np.ascontiguousarray(frames[1][50:, 100:]), frames[2], frames[0]]
    regions = [None, None, None, (0.75, 0.0, 1.0, 0.31)]
    batched = detector.detect(images, regions)
    single = [detector.detect([image], [region])[0] for image, region in zip(images, regions, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert len(b) == len(s) > 0
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1e-2)
        np.testing.assert_allclose(b.confidence, s.confidence, atol=1e-4)
        np.testing.assert_array_equal(b.class_id, s.class_id)


def test_the_window_of_a_letterboxed_frame_is_where_the_region_lands(detector: Detector) -> None:
    """768 x 576 lands in the top 416 x 312 of the input: a region maps through that letterbox."""
    assert detector.spec.window((0.75, 0.0, 1.0, 0.31), (768, 576)) == (288, 0, 416, 128)
    assert detector.spec.window((0.0, 0.0, 1.0, 1.0), (768, 576)) == (0, 0, 416, 320), "the grey rows are left out"
    assert detector.spec.window((0.0, 0.0, 1.0, 1.0), (576, 576)) is None


def test_a_yolox_head_read_as_yolov5_is_what_the_config_asks(detector: Detector) -> None:
    """Auto-detection picks YOLOX for a head whose rows are exactly the grid's cells; a config that
    says yolov5 (a YOLOX export with decoding inside) gets yolov5, and a wrong format is named."""
    forced = load_detector(ModelConfig(id="coco", path=YOLOX, format="yolov5"))
    assert forced.format == "yolov5"
    with pytest.raises(ModelError, match="don't fit format 'centernet'"):
        load_detector(ModelConfig(id="coco", path=YOLOX, format="centernet"))
