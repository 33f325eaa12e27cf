"""The bundled CenterNet model on real frames of streams/vtest.avi, through `Detector`."""

from pathlib import Path

import av
import numpy as np
import pytest

from edge.config import ModelConfig
from edge.infer import Detector, load_detector

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "centernet-mbv3-coco.onnx"
CLIP = REPO / "streams" / "vtest.avi"
THRESHOLD = 0.3


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box `a` against (M, 4) boxes `b`."""
    lt = np.maximum(a[:2], b[:, :2])
    rb = np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[:, 2:] - b[:, :2], axis=1) - inter)


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    wanted = {100, 300, 500}
    out = {}
    with av.open(str(CLIP)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="bgr24")
            if len(out) == len(wanted):
                break
    return out


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(ModelConfig(id="coco", path=MODEL, score_threshold=THRESHOLD))


def best(det, names: list[str], box: tuple[float, float, float, float], classes: set[str]) -> float:
    """Highest IoU between `box` and a detection of one of `classes`."""
    keep = np.isin(np.array(names)[det.class_id], list(classes))
    return float(iou(np.array(box, np.float32), det.xyxy[keep]).max(initial=0.0))


def test_model_facts(detector: Detector):
    assert detector.id == "coco"
    assert detector.format == "centernet"
    assert len(detector.class_names) == 80 and detector.class_names[:3] == ["person", "bicycle", "car"]
    assert detector.max_batch > 1  # the bundled model has a dynamic batch dimension


def test_parked_vehicles_and_walkers_on_frame_100(detector: Detector, frames):
    [det] = detector.detect([frames[100]])
    names = detector.class_names
    assert best(det, names, (641, 42, 725, 102), {"truck", "car"}) > 0.7  # the parked white van
    assert best(det, names, (731, 50, 766, 95), {"car"}) > 0.7  # the car at the right edge
    for person in [(585, 157, 621, 236), (345, 200, 380, 273), (376, 176, 410, 260), (490, 150, 543, 220)]:
        assert best(det, names, person, {"person"}) > 0.5, person
    assert (det.confidence >= THRESHOLD).all()
    assert det.confidence.tolist() == sorted(det.confidence.tolist(), reverse=True)


def test_boxes_follow_the_frame_size(detector: Detector, frames):
    """A half-size copy of the frame gives the vehicles at half the coordinates."""
    small = np.ascontiguousarray(frames[100][::2, ::2])
    [det] = detector.detect([small])
    names = detector.class_names
    assert best(det, names, (320, 21, 362, 51), {"truck", "car"}) > 0.6
    assert (det.xyxy[:, [0, 2]] <= 384).all() and (det.xyxy[:, [1, 3]] <= 288).all()


def reference_decode(peaks: np.ndarray, ltrb: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model card's decoding written plainly for one image, to check the vectorised batch decoder."""
    flat = peaks.reshape(-1)
    order = np.argsort(-flat, kind="stable")[:100]
    order = order[flat[order] >= THRESHOLD]
    boxes, scores, classes = [], [], []
    for i in order:
        c = i % 80
        y, x = divmod(i // 80, 128)
        left, top, right, bottom = ltrb[:, y, x]
        box = np.array([4 * x - left, 4 * y - top, 4 * x + right, 4 * y + bottom]) * np.array([w, h, w, h]) / 512
        boxes.append(np.clip(box, 0, [w, h, w, h]))
        scores.append(flat[i])
        classes.append(c)
    return np.array(boxes).reshape(-1, 4), np.array(scores), np.array(classes)


def test_decoding_matches_the_model_card(detector: Detector, frames):
    images = [frames[100], frames[300], frames[500]]
    tensor, geometry = detector.preprocess(images)
    peaks, ltrb = detector.run(tensor)
    for n, det in enumerate(detector.postprocess([peaks, ltrb], geometry)):
        boxes, scores, classes = reference_decode(peaks[n], ltrb[n], 768, 576)
        np.testing.assert_allclose(det.xyxy, boxes, atol=1e-3)
        np.testing.assert_allclose(det.confidence, scores, rtol=1e-6)
        np.testing.assert_array_equal(det.class_id, classes)


def test_batch_equals_single_runs(detector: Detector, frames):
    images = [frames[100], np.ascontiguousarray(frames[300][50:, 100:]), frames[500]]
    batched = detector.detect(images)
    single = [detector.detect([image])[0] for image in images]
    assert len(batched) == 3
    for b, s in zip(batched, single, strict=True):
        assert len(b) == len(s) > 0
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1e-2)
        np.testing.assert_allclose(b.confidence, s.confidence, atol=1e-4)
        np.testing.assert_array_equal(b.class_id, s.class_id)


def test_no_images_and_blank_images(detector: Detector):
    assert detector.detect([]) == []
    [det] = detector.detect([np.zeros((100, 160, 3), np.uint8)])
    assert len(det) == 0


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (np.zeros((64, 64), np.uint8), "image 0 must be an (H, W, 3) uint8"),
        (np.zeros((64, 64, 3), np.float32), "dtype float32"),
        (np.zeros((64, 64, 4), np.uint8), "shape (64, 64, 4)"),
    ],
)
def test_bad_images_are_named(detector: Detector, image: np.ndarray, problem: str):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        detector.detect([image])
