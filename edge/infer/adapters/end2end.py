"""End-to-end detectors with NMS inside the graph: nothing left to do but threshold.

Two layouts are read: one [N, K, 6] tensor of (x1, y1, x2, y2, score, class), as YOLOv10 and
`end2end` YOLO exports give; or separate outputs, as TensorRT-style NMS plugins and many
exporters give: boxes [N, K, 4] (x1, y1, x2, y2), scores [N, K], classes [N, K] and an
optional count [N] or [N, 1] of valid rows per image. Boxes are in input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.infer.adapters.base import OutputSample
from edge.infer.adapters.yolo import single_rank3
from edge.infer.candidates import Candidates, batch_nonzero, candidates
from edge.infer.preprocess import Colour, Resize

CLASS_WORDS = ("class", "label", "cls")
SCORE_WORDS = ("score", "conf", "prob")


class End2EndFormat:
    """What both end-to-end layouts share: NMS already in the graph, letterboxed RGB in 0..1."""

    format = "end2end"
    needs_nms = False
    resize: Resize = "letterbox"
    colour: Colour = "rgb"
    pixel_scale = 1 / 255
    n_classes = None


class End2EndAdapter(End2EndFormat):
    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> End2EndAdapter | None:
        dims = single_rank3(samples)
        return cls() if dims is not None and dims[1] == 6 else None

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        pred = outputs[0]
        image, row = batch_nonzero(pred[..., 4] >= threshold)
        found = pred[image, row]
        return candidates(image, found[:, :4], found[:, 4], np.rint(found[:, 5]))


def _rows(sample: OutputSample, batch: int) -> int | None:
    """K of a [N, K] (or [N, K, 1]) per-row output, else None."""
    shape = sample.shape
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    return shape[1] if len(shape) == 2 and shape[0] == batch else None


def _named(samples: list[tuple[int, OutputSample]], words: tuple[str, ...]) -> list[int]:
    return [i for i, s in samples if any(w in s.name.lower() for w in words)]


class SplitEnd2EndAdapter(End2EndFormat):
    def __init__(self, boxes: int, scores: int, classes: int, count: int | None) -> None:
        self.boxes, self.scores, self.classes, self.count = boxes, scores, classes, count

    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> SplitEnd2EndAdapter | None:
        """Boxes are the [N, K, 4] output; scores and classes the [N, K] ones, told apart by dtype or name."""
        if not 3 <= len(samples) <= 4:
            return None
        box_outputs = [i for i, s in enumerate(samples) if len(s.shape) == 3 and s.shape[2] == 4]
        if len(box_outputs) != 1:
            return None
        batch, k = samples[box_outputs[0]].shape[:2]
        per_row = [(i, s) for i, s in enumerate(samples) if i != box_outputs[0] and _rows(s, batch) == k]
        taken = {box_outputs[0], *(i for i, _ in per_row)}
        counts = [i for i, s in enumerate(samples) if i not in taken and s.shape in ((batch,), (batch, 1))]
        if len(per_row) != 2 or len(samples) != 3 + len(counts):
            return None
        integer = [i for i, s in per_row if s.dtype.kind in "iu"]
        floats = [i for i, s in per_row if s.dtype.kind == "f"]
        if len(integer) == 1 and len(floats) == 1:
            classes, scores = integer[0], floats[0]
        elif len(_named(per_row, CLASS_WORDS)) == 1 and len(_named(per_row, SCORE_WORDS)) == 1:
            classes, scores = _named(per_row, CLASS_WORDS)[0], _named(per_row, SCORE_WORDS)[0]
        else:
            return None
        return cls(box_outputs[0], scores, classes, counts[0] if counts else None)

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        boxes = outputs[self.boxes]
        scores = outputs[self.scores].reshape(boxes.shape[:2])
        valid = scores >= threshold
        if self.count is not None:
            count = outputs[self.count].reshape(-1, 1)
            valid &= np.arange(boxes.shape[1])[None, :] < count
        image, row = batch_nonzero(valid)
        classes = outputs[self.classes].reshape(boxes.shape[:2])
        return candidates(image, boxes[image, row], scores[image, row], np.rint(classes[image, row]))
