"""Small ONNX graphs that emit known tensors, to test every adapter without a trained model.

Each output is a constant per-image tensor; its score entries (marked by a mask) are multiplied
by the mean brightness (0..1) of a small patch at the input's centre (inside the picture, clear
of letterbox bars), so a white frame yields the constant, a black frame yields zero scores.
That keeps routing per image observable: in a batch of white and black
frames, only the white ones may produce boxes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ONNX_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
}


@dataclass
class Out:
    """One output: per-image `value` (no batch axis), `score` marks the entries scaled by brightness."""

    name: str
    value: np.ndarray
    score: np.ndarray | None = None
    dtype: type = np.float32


def build(
    path: Path,
    outputs: list[Out],
    input_shape: list[int | str],
    input_dtype: type = np.float32,
    metadata: dict[str, str] | None = None,
    input_name: str = "images",
    extra_inputs: int = 0,
    channel: int | None = None,
) -> Path:
    """Write a graph taking `input_shape` images and returning `outputs` stacked over the batch.

    With `channel`, brightness is read from that input channel only, so colour order is observable.
    """
    # uint8 inputs arrive as 0..255, YOLO-style floats as 0..1, CenterNet-style floats as 0..255
    brightness = (
        helper.make_node("Div", ["mean", "full"], ["clipped"])
        if input_dtype == np.uint8
        else helper.make_node("Min", ["mean", "one"], ["clipped"])
    )
    spatial = [2, 3] if input_shape[1] == 3 else [1, 2]
    picked = [] if channel is None else [channel]
    nodes = [
        helper.make_node("Cast", [input_name], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["patch"]),
        helper.make_node("ReduceMean", ["patch"], ["mean"], axes=[1, 2, 3], keepdims=0),
        brightness,
    ]
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([150, 150, *picked], np.int64), "starts"),
        numpy_helper.from_array(np.array([170, 170, *[c + 1 for c in picked]], np.int64), "ends"),
        numpy_helper.from_array(
            np.array(spatial + ([1 if input_shape[1] == 3 else 3] if picked else []), np.int64), "axes"
        ),
    ]
    if input_dtype == np.uint8:
        inits.append(numpy_helper.from_array(np.array(255.0, np.float32), "full"))
    outs = []
    for i, out in enumerate(outputs):
        value = np.asarray(out.value, np.float32)[None]
        mask = np.zeros_like(value) if out.score is None else np.asarray(out.score, np.float32)[None]
        inits += [numpy_helper.from_array(value, f"v{i}"), numpy_helper.from_array(mask, f"m{i}")]
        shape = np.array([-1, *[1] * (value.ndim - 1)], np.int64)
        inits.append(numpy_helper.from_array(shape, f"s{i}"))
        nodes += [
            helper.make_node("Reshape", ["clipped", f"s{i}"], [f"b{i}"]),  # brightness as [N, 1, ...]
            helper.make_node("Sub", [f"b{i}", "one"], [f"d{i}"]),
            helper.make_node("Mul", [f"d{i}", f"m{i}"], [f"e{i}"]),
            helper.make_node("Add", [f"e{i}", "one"], [f"g{i}"]),
            helper.make_node("Mul", [f"g{i}", f"v{i}"], [f"f{i}"]),
            helper.make_node("Cast", [f"f{i}"], [out.name], to=ONNX_TYPES[np.dtype(out.dtype)]),
        ]
        shape_out = [input_shape[0], *np.shape(out.value)]
        outs.append(helper.make_tensor_value_info(out.name, ONNX_TYPES[np.dtype(out.dtype)], shape_out))
    inputs = [helper.make_tensor_value_info(input_name, ONNX_TYPES[np.dtype(input_dtype)], input_shape)]
    inputs += [helper.make_tensor_value_info(f"extra{i}", TensorProto.FLOAT, [1]) for i in range(extra_inputs)]
    graph = helper.make_graph(nodes, "known", inputs, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, text in (metadata or {}).items():
        model.metadata_props.add(key=key, value=text)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def names_json(names: list[str]) -> dict[str, str]:
    return {"names": json.dumps(names)}


def names_yolo(names: list[str]) -> dict[str, str]:
    """Names the way Ultralytics exports write them: a Python dict literal."""
    return {"names": str(dict(enumerate(names)))}


# Known tensors in each supported layout, shared by the format and startup tests.
NAMES = ["person", "car", "truck"]
# known boxes in 320x320 input pixels: (x1, y1, x2, y2, score, class)
KNOWN = np.array(
    [
        [80, 70, 120, 130, 0.9, 1],  # A
        [84, 70, 124, 130, 0.8, 1],  # A shifted 4 px, same class: NMS removes it (IoU 0.82)
        [80, 70, 120, 130, 0.7, 2],  # A again as another class: class-wise NMS keeps it
        [200, 100, 260, 200, 0.2, 0],  # below the 0.25 threshold
        [200, 150, 240, 190, 0.6, 0],  # C
    ],
    np.float32,
)
AFTER_NMS = [0, 2, 4]  # rows expected, best first


def xywh(rows: np.ndarray) -> np.ndarray:
    return np.concatenate([(rows[:, :2] + rows[:, 2:4]) / 2, rows[:, 2:4] - rows[:, :2]], axis=1)


def yolov5(k: int = 16, rows: np.ndarray = KNOWN, n_classes: int = 3) -> list[Out]:
    value = np.zeros((k, 5 + n_classes), np.float32)
    value[: len(rows), :4] = xywh(rows)
    value[: len(rows), 4] = 0.95
    value[np.arange(len(rows)), 5 + rows[:, 5].astype(int)] = rows[:, 4] / 0.95
    value[len(rows), :5] = [300, 300, 10, 10, 0.9]  # objectness high, class 0.2: score 0.18, dropped
    value[len(rows), 5] = 0.2
    return [Out("output0", value, np.arange(5 + n_classes)[None, :] >= 4)]


def yolov8(k: int = 16) -> list[Out]:
    value = np.zeros((4 + len(NAMES), k), np.float32)
    value[:4, : len(KNOWN)] = xywh(KNOWN).T
    value[4 + KNOWN[:, 5].astype(int), np.arange(len(KNOWN))] = KNOWN[:, 4]
    return [Out("output0", value, np.arange(4 + len(NAMES))[:, None] >= 4)]


def end2end(rows: np.ndarray = KNOWN[[0, 2, 3, 4]], k: int = 10) -> list[Out]:
    value = np.zeros((k, 6), np.float32)
    value[: len(rows)] = rows
    return [Out("output0", value, np.arange(6)[None, :] == 4)]


def split() -> list[Out]:
    rows = np.concatenate([KNOWN[[0, 2, 4, 3]], [[0, 0, 50, 50, 0.95, 1]]])  # last row is past the count
    k = 8
    boxes, scores, classes = np.zeros((k, 4)), np.zeros(k), np.zeros(k)
    boxes[: len(rows)], scores[: len(rows)], classes[: len(rows)] = rows[:, :4], rows[:, 4], rows[:, 5]
    return [
        Out("num_dets", np.array([4]), dtype=np.int64),
        Out("det_boxes", boxes),
        Out("det_scores", scores, np.ones(k, bool)),
        Out("det_classes", classes, dtype=np.int64),
    ]


FORMATS = {"yolov5": yolov5, "yolov8": yolov8, "end2end": end2end, "split": split}


def model(tmp_path: Path, outputs: list[Out], batch: int | str = "batch", **kw) -> Path:
    kw.setdefault("metadata", names_yolo(NAMES))
    return build(tmp_path / "m.onnx", outputs, [batch, 3, 320, 320], **kw)
