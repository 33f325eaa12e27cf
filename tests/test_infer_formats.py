"""Every adapter on small ONNX graphs that emit known tensors: detection, decoding, letterbox, NMS, batching."""

from pathlib import Path

import numpy as np
import pytest
from onnx_graphs import AFTER_NMS, FORMATS, KNOWN, NAMES, build, end2end, model, names_json, yolov5, yolov8

from edge.config import ModelConfig
from edge.infer import load_detector

WHITE = np.full((480, 640, 3), 255, np.uint8)
BLACK = np.zeros((480, 640, 3), np.uint8)
SMALL_WHITE = np.full((240, 320, 3), 255, np.uint8)


def check_known(det, scale: tuple[float, float], pad: tuple[float, float]) -> None:
    """Detections equal the known rows after NMS, mapped to the frame by scale and padding."""
    rows = KNOWN[AFTER_NMS]
    expected = (rows[:, :4] - np.tile(pad, 2)) / np.tile(scale, 2)
    np.testing.assert_allclose(det.xyxy, expected, atol=1e-3)
    np.testing.assert_allclose(det.confidence, rows[:, 4], rtol=1e-5)
    np.testing.assert_array_equal(det.class_id, rows[:, 5].astype(int))


@pytest.mark.parametrize("batch", ["batch", 1, 4])
@pytest.mark.parametrize("kind", FORMATS)
def test_adapter_decodes_known_tensors(tmp_path: Path, kind: str, batch: int | str):
    detector = load_detector(ModelConfig(id=kind, path=model(tmp_path, FORMATS[kind](), batch)))
    assert detector.format == ("end2end" if kind == "split" else kind)
    assert detector.class_names == NAMES
    assert detector.max_batch == (batch if isinstance(batch, int) else 256)
    white, black, small = detector.detect([WHITE, BLACK, SMALL_WHITE])
    check_known(white, (0.5, 0.5), (0, 40))  # 640x480 letterboxed into 320x320: half size, 40 px bars
    assert len(black) == 0  # the black frame's scores are zero: nothing leaks across images
    check_known(small, (1.0, 1.0), (0, 40))


@pytest.mark.parametrize("kind", FORMATS)
def test_batch_equals_single_runs(tmp_path: Path, kind: str):
    detector = load_detector(ModelConfig(id=kind, path=model(tmp_path, FORMATS[kind]())))
    images = [WHITE, BLACK, SMALL_WHITE, WHITE[:300]]
    batched = detector.detect(images)
    for image, got in zip(images, batched, strict=True):
        [single] = detector.detect([image])
        np.testing.assert_allclose(got.xyxy, single.xyxy, atol=1e-4)
        np.testing.assert_array_equal(got.class_id, single.class_id)


def test_plain_resize_from_config(tmp_path: Path):
    detector = load_detector(ModelConfig(id="m", path=model(tmp_path, yolov8()), resize="plain"))
    [det] = detector.detect([WHITE])
    check_known(det, (0.5, 320 / 480), (0, 0))


def test_max_detections_and_threshold(tmp_path: Path):
    path = model(tmp_path, yolov8())
    [det] = load_detector(ModelConfig(id="m", path=path, max_detections=1)).detect([WHITE])
    assert det.confidence.tolist() == pytest.approx([0.9])
    [det] = load_detector(ModelConfig(id="m", path=path, score_threshold=0.1, nms_iou=0.9)).detect([WHITE])
    assert len(det) == 5 and det.confidence.min() == pytest.approx(0.2)  # looser IoU keeps the shifted box


@pytest.mark.parametrize(
    ("outputs", "names", "expected"),
    [
        (yolov5(k=1200, rows=KNOWN[[0]] * [1, 1, 1, 1, 1, 0], n_classes=1), ["car"], "yolov5"),
        (end2end(k=10), ["car"], "end2end"),
        (end2end(k=300), NAMES, "end2end"),
    ],
    ids=["one-class-yolov5-many-anchors", "end2end-one-class", "end2end-many-classes"],
)
def test_k_by_6_outputs_are_told_apart(tmp_path: Path, outputs, names, expected):
    path = model(tmp_path, outputs, metadata=names_json(names))
    detector = load_detector(ModelConfig(id="m", path=path))
    assert detector.format == expected
    [det] = detector.detect([WHITE])
    np.testing.assert_allclose(det.xyxy[0], [160, 60, 240, 180], atol=1e-3)


def test_format_from_config_overrides_detection(tmp_path: Path):
    path = model(tmp_path, end2end(k=1200), metadata=names_json(["car"]))
    assert load_detector(ModelConfig(id="m", path=path)).format == "yolov5"
    assert load_detector(ModelConfig(id="m", path=path, format="end2end")).format == "end2end"


def test_labels_file_gives_names(tmp_path: Path):
    labels = tmp_path / "labels.txt"
    labels.write_text("walker\nauto\nlorry\n")
    detector = load_detector(ModelConfig(id="m", path=model(tmp_path, yolov8(), metadata={}), labels=labels))
    assert detector.class_names == ["walker", "auto", "lorry"]


@pytest.mark.parametrize(("dtype", "layout"), [(np.uint8, "nhwc"), (np.float16, "nchw"), (np.float32, "nhwc")])
def test_input_dtypes_and_layouts(tmp_path: Path, dtype: type, layout: str):
    shape = ["batch", 320, 320, 3] if layout == "nhwc" else ["batch", 3, 320, 320]
    path = build(tmp_path / "m.onnx", yolov8(), shape, input_dtype=dtype, metadata=names_json(NAMES))
    detector = load_detector(ModelConfig(id="m", path=path))
    assert detector.spec.layout == layout and detector.spec.scale == (1.0 if dtype == np.uint8 else 1 / 255)
    white, black = detector.detect([WHITE, BLACK])
    check_known(white, (0.5, 0.5), (0, 40))
    assert len(black) == 0


def test_dynamic_image_size_from_metadata_or_config(tmp_path: Path):
    shape: list[int | str] = ["batch", 3, "height", "width"]
    meta = {**names_json(NAMES), "imgsz": "[320, 320]"}
    path = build(tmp_path / "a.onnx", yolov8(), shape, metadata=meta)
    [det] = load_detector(ModelConfig(id="m", path=path)).detect([WHITE])
    check_known(det, (0.5, 0.5), (0, 40))
    path = build(tmp_path / "b.onnx", yolov8(), shape, metadata=names_json(NAMES))
    detector = load_detector(ModelConfig(id="m", path=path, input_size=(320, 320)))
    check_known(detector.detect([WHITE])[0], (0.5, 0.5), (0, 40))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_colour_order_follows_the_config(tmp_path: Path, layout: str):
    """The graph reads brightness from input channel 0 only: red for an RGB model, blue for a BGR one."""
    shape = ["batch", 3, 320, 320] if layout == "nchw" else ["batch", 320, 320, 3]
    path = build(tmp_path / "m.onnx", yolov8(), shape, metadata=names_json(NAMES), channel=0)
    red, blue = np.zeros_like(WHITE), np.zeros_like(WHITE)
    red[..., 2], blue[..., 0] = 255, 255  # frames are BGR
    for colour, lit, dark in (("rgb", red, blue), ("bgr", blue, red)):
        detector = load_detector(ModelConfig(id="m", path=path, colour=colour))
        seen, unseen = detector.detect([lit, dark])
        check_known(seen, (0.5, 0.5), (0, 40))
        assert len(unseen) == 0, f"a {colour} model must not see the other channel"
