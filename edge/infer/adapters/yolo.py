"""YOLO heads without NMS inside: YOLOv5-style [N, K, 5 + C] and YOLOv8/YOLO11-style [N, 4 + C, K].

Boxes are (cx, cy, w, h) in input pixels. YOLOv5 rows carry an objectness score that
multiplies the class scores; YOLOv8 rows carry class scores only. Each anchor keeps its
best class; class-wise NMS follows (see `edge.infer.nms`). Rows are pre-filtered by the
cheapest bound on their score, so class arrays are only touched for promising anchors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.infer.adapters.base import OutputSample, xywh_to_xyxy
from edge.infer.candidates import Candidates, batch_nonzero, candidates
from edge.infer.preprocess import Colour, Resize


def single_rank3(samples: Sequence[OutputSample]) -> tuple[int, int] | None:
    """(A, B) of the one [N, A, B] float output, or None when the outputs look different."""
    if len(samples) != 1 or len(samples[0].shape) != 3 or samples[0].dtype.kind != "f":
        return None
    return samples[0].shape[1], samples[0].shape[2]


class _YoloFamily:
    """What both YOLO layouts share: letterboxed 0..1 input, per-class scores, NMS outside the model."""

    needs_nms = True
    resize: Resize = "letterbox"
    colour: Colour = "rgb"
    pixel_scale = 1 / 255

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes


def best_class(class_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M,) class ids and (M,) scores of the best class per row of (M, C) scores."""
    class_id = class_scores.argmax(axis=1)
    return class_id, np.take_along_axis(class_scores, class_id[:, None], axis=1)[:, 0]


class YoloV5Adapter(_YoloFamily):
    format = "yolov5"

    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> YoloV5Adapter | None:
        dims = single_rank3(samples)
        if dims is None or not (dims[0] > dims[1] >= 6):
            return None
        return cls(dims[1] - 5)

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        pred = outputs[0]
        image, anchor = batch_nonzero(pred[..., 4] >= threshold)  # score = obj * cls <= obj
        rows = pred[image, anchor]
        class_id, score = best_class(rows[:, 5:] * rows[:, 4:5])
        keep = score >= threshold
        return candidates(image[keep], xywh_to_xyxy(rows[keep, :4]), score[keep], class_id[keep])


class YoloV8Adapter(_YoloFamily):
    format = "yolov8"

    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> YoloV8Adapter | None:
        dims = single_rank3(samples)
        if dims is None or not (dims[1] > dims[0] >= 5):
            return None
        return cls(dims[0] - 4)

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        pred = outputs[0]
        image, anchor = batch_nonzero(pred[:, 4:, :].max(axis=1) >= threshold)
        class_id, score = best_class(pred[image, 4:, anchor])
        return candidates(image, xywh_to_xyxy(pred[image, :4, anchor]), score, class_id)
