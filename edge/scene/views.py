"""Small views of a frame shared by the scene model, tamper and view-change checks.

Both work on a shrunk copy of the frame, so they cost a fraction of a detector inference, and
judge "how much of the view" on a grid of tiles.
"""

from __future__ import annotations

import cv2
import numpy as np


def downscale(image: np.ndarray, work_width: int) -> np.ndarray:
    """The image shrunk by a whole factor to at least `work_width` pixels wide (OpenCV's fast area path)."""
    height, width = image.shape[:2]
    factor = max(1, width // work_width)
    return cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)


def tile_means(image: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """(rows, columns) mean of a (H, W) float32 image over each tile of a grid (tiles may be fractional)."""
    return cv2.resize(image, (columns, rows), interpolation=cv2.INTER_AREA)
