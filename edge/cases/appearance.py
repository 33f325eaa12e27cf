"""A cheap appearance signature of an object's crop: is this sighting the same object as before?

The crop is shrunk to a GRID of cells (OpenCV's area interpolation averages each cell) and each
cell's colour is taken in CIE Lab with the crop's mean lightness removed: a coarse colour layout
that two different passers-by rarely share, that a parked car keeps from frame to frame, and that
a change of light (clouds, the sun going down, auto-exposure) moves only a little. About 100
numbers per sighting and a few microseconds per box; no model, no training.

Similarity is exp(-d / SCALE) of the mean Lab distance d between corresponding cells: 1 for the
same picture, about 0.8-0.95 for one object seen again, 0.2-0.6 for two different people in the
same spot (measured on the bundled clip; see docs/rules.md).
"""

from __future__ import annotations

import cv2
import numpy as np

GRID = (4, 8)  # cells across, cells down (crops are resized to this, whatever their aspect)
SIZE = GRID[0] * GRID[1] * 3
SCALE = 20.0  # Lab units: a mean cell distance of 20 gives similarity 1/e


def signatures(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(M, SIZE) float32 signatures of the boxes' crops of a BGR frame; NaN rows for empty crops."""
    height, width = image.shape[:2]
    out = np.full((len(boxes), SIZE), np.nan, np.float32)
    corners = np.round(np.asarray(boxes, np.float64)).astype(np.int64)
    corners[:, [0, 2]] = corners[:, [0, 2]].clip(0, width)
    corners[:, [1, 3]] = corners[:, [1, 3]].clip(0, height)
    for i, (x1, y1, x2, y2) in enumerate(corners.tolist()):  # one small crop per box
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        cells = cv2.resize(image[y1:y2, x1:x2], GRID, interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(cells.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab).reshape(-1, 3)
        lab[:, 0] -= lab[:, 0].mean()
        out[i] = lab.ravel()
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) similarity in (0, 1] between signature rows; 1 where either is unknown (NaN)."""
    if not len(a) or not len(b):
        return np.ones((len(a), len(b)), np.float32)
    cells_a = a.reshape(len(a), 1, -1, 3)
    cells_b = b.reshape(1, len(b), -1, 3)
    distance = np.linalg.norm(cells_a - cells_b, axis=3).mean(axis=2)
    return np.where(np.isnan(distance), 1.0, np.exp(-distance / SCALE)).astype(np.float32)
