"""CenterNet with separate heads: a peak-masked class heatmap and per-cell box edge distances.

The bundled model (models/README.md) has `peaks` [N, H, W, C] (sigmoid scores, 0 except at
3x3 local maxima) and `ltrb` [N, 4, H, W] (distances in input pixels from the cell centre
(stride*x, stride*y) to the box edges). Peak masking already plays the role of NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.infer.adapters.base import OutputSample
from edge.infer.candidates import Candidates, batch_nonzero, candidates
from edge.infer.preprocess import Colour, Resize


class CenterNetAdapter:
    format = "centernet"
    needs_nms = False
    resize: Resize = "plain"
    colour: Colour = "rgb"
    pixel_scale = 1.0

    def __init__(self, peaks: int, ltrb: int, stride: float, n_classes: int) -> None:
        self.peaks, self.ltrb, self.stride, self.n_classes = peaks, ltrb, stride, n_classes

    @classmethod
    def match(cls, samples: Sequence[OutputSample], input_size: tuple[int, int]) -> CenterNetAdapter | None:
        """Recognise the two heads from their shapes: [N, H, W, C] scores beside [N, 4, H, W] edges."""
        shapes = [s.shape for s in samples]
        if len(shapes) != 2 or any(len(s) != 4 for s in shapes):
            return None
        for p, e in ((0, 1), (1, 0)):
            peaks, ltrb = shapes[p], shapes[e]
            if ltrb[1] == 4 and tuple(ltrb[2:]) == tuple(peaks[1:3]):
                return cls(p, e, input_size[0] / peaks[2], peaks[3])
        return None

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        peaks, ltrb = outputs[self.peaks], outputs[self.ltrb]
        n, _, w, c = peaks.shape
        flat = peaks.reshape(n, -1)
        image, index = batch_nonzero(flat >= max(threshold, np.finfo(np.float32).tiny))
        cell, class_id = np.divmod(index, c)
        y, x = np.divmod(cell, w)
        edges = ltrb[image, :, y, x]
        cx, cy = x * self.stride, y * self.stride
        xyxy = np.stack([cx - edges[:, 0], cy - edges[:, 1], cx + edges[:, 2], cy + edges[:, 3]], axis=1)
        return candidates(image, xyxy, flat[image, index], class_id)
