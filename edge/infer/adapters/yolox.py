"""YOLOX's raw head: one [N, K, 5 + C] output whose K rows are the cells of strides 8, 16 and 32.

Unlike YOLOv5 (three anchor boxes per cell, boxes already in pixels), YOLOX is anchor-free and this
head is not decoded: per row `dx, dy, log w, log h` in units of its level's stride, then objectness
and C class probabilities (sigmoids applied). Decoding follows YOLOX's own: centre
`((dx + gx) * s, (dy + gy) * s)`, size `exp(log w) * s`, score = objectness x class probability, then
class-wise NMS. The grid depends on the input's height and width, which vary with zone windows, so
decoding takes the tensor's size; the grid is cached per size.

Recognised by the row count: K equals the cells of the three strides for the input size exactly
(YOLOv5 has three times that). YOLOX was trained on BGR 0..255 frames letterboxed into the
top-left corner and padded with 114, which is what `resize: auto` and `colour: auto` give it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from edge.infer.adapters.base import OutputSample, xywh_to_xyxy
from edge.infer.adapters.yolo import best_class, single_rank3
from edge.infer.candidates import Candidates, batch_nonzero, candidates
from edge.infer.preprocess import Colour, Resize

STRIDES = (8, 16, 32)


def cell_count(width: int, height: int) -> int:
    """Rows of a YOLOX head for an input of this size (0 when the size is not a multiple of the strides)."""
    if width % STRIDES[-1] or height % STRIDES[-1]:
        return 0
    return sum((width // s) * (height // s) for s in STRIDES)


@lru_cache(maxsize=64)
def grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) cell corners (gx, gy) and (K, 1) strides of every row, in the head's order."""
    cells, strides = [], []
    for s in STRIDES:
        gy, gx = np.mgrid[0 : height // s, 0 : width // s]
        cells.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides.append(np.full(gx.size, s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)[:, None]


class YoloxAdapter:
    format = "yolox"
    needs_nms = True
    resize: Resize = "letterbox_top_left"
    colour: Colour = "bgr"
    pixel_scale = 1.0

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes

    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> YoloxAdapter | None:
        dims = single_rank3(samples)
        if dims is None or dims[1] < 6 or dims[0] != cell_count(*input_size):
            return None
        return cls(dims[1] - 5)

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        pred = outputs[0]
        cells, strides = grid(*input_size)
        if pred.shape[1] != len(cells):
            raise ValueError(f"a YOLOX head for a {input_size} input has {len(cells)} rows, got {pred.shape[1]}")
        image, row = batch_nonzero(pred[..., 4] >= threshold)  # score = obj * cls <= obj
        rows = pred[image, row]
        class_id, score = best_class(rows[:, 5:] * rows[:, 4:5])
        keep = score >= threshold
        s = strides[row[keep]]
        centre = (rows[keep, :2] + cells[row[keep]]) * s
        size = np.exp(np.minimum(rows[keep, 2:4], 20.0)) * s  # clamp: a garbage row must not overflow
        return candidates(
            image[keep], xywh_to_xyxy(np.concatenate([centre, size], axis=1)), score[keep], class_id[keep]
        )
