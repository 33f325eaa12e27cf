"""Class-wise non-maximum suppression for a whole batch in one call.

Boxes of different images and different classes must never suppress each other, so each
row gets a group id (image * classes + class) and OpenCV's batched NMS (C++, offsets boxes
per group) does the greedy pass; no Python loop over boxes or groups.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.infer.candidates import Candidates


def classwise_nms(c: Candidates, iou: float) -> Candidates:
    """Keep, per image and class, the best box among those overlapping by more than `iou`."""
    if len(c) < 2:
        return c
    group = c.image * (int(c.class_id.max()) + 1) + c.class_id
    xywh = np.concatenate([c.xyxy[:, :2], c.xyxy[:, 2:] - c.xyxy[:, :2]], axis=1).astype(np.float64)
    # OpenCV takes (N, 4) / (N,) arrays here; its stubs name only Python sequences of boxes and scores.
    keep = cv2.dnn.NMSBoxesBatched(
        xywh,  # type: ignore[arg-type]
        c.score.astype(np.float64),  # type: ignore[arg-type]
        group.astype(np.int32),
        -1.0,
        iou,
    )
    return c.take(np.sort(np.asarray(keep, np.int64).reshape(-1)))
