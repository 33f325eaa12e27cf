"""View changes: a hard cut in an edited recording, a camera switching preset, a re-aim.

No dwell may span a change of view: the object seen before it and the one seen after it are not
known to be the same thing, even at the same pixels. This runs for every camera (scene model on or
off) on each analysed frame against the previous analysed frame, on a small grey copy: the frame
is cut into TILES x TILES tiles and a textured tile counts as changed when its zero-mean,
unit-variance grey pattern correlates below `tile_correlation` with the same tile before
(normalised cross-correlation: a global change of light, auto-exposure or a colour shift leaves it
near 1). The view changed when `min_changed_share` of the textured tiles changed at once: passers-by,
a car driving through or rain change some tiles, a cut changes nearly all. Tiles flat in both
frames (sky, a plain wall) carry no evidence. Cost: a resize and a few small array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config.scene import ViewChangeConfig

TILES = 6
FLAT_STD = 3.0  # grey levels: a tile this uniform has no pattern to compare


@dataclass(frozen=True, slots=True)
class ViewChange:
    """One frame against the previous one: `changed` when the view is another; `share` of changed tiles."""

    changed: bool = False
    share: float = 0.0


class ViewChangeDetector:
    """Compares each analysed frame of one camera with the previous one."""

    def __init__(self, config: ViewChangeConfig) -> None:
        self.config = config
        self._previous: np.ndarray | None = None

    def update(self, image: np.ndarray) -> ViewChange:
        """Measure `image` (BGR) against the previous frame; it becomes the previous frame."""
        if not self.config.enabled:
            return ViewChange()
        tiles = self._tiles(image)
        previous, self._previous = self._previous, tiles
        if previous is None or previous.shape != tiles.shape:
            return ViewChange(changed=previous is not None)  # a new resolution is a new view
        std_now, std_before = tiles.std(axis=(2, 3)), previous.std(axis=(2, 3))
        textured = (std_now > FLAT_STD) | (std_before > FLAT_STD)
        if textured.sum() < TILES:  # a nearly uniform picture (covered lens): the tamper check's business
            return ViewChange()
        normalise = lambda t, s: (t - t.mean(axis=(2, 3), keepdims=True)) / np.maximum(s, 1e-3)[..., None, None]  # noqa: E731
        correlation = (normalise(tiles, std_now) * normalise(previous, std_before)).mean(axis=(2, 3))
        changed = textured & (correlation < self.config.tile_correlation)
        share = float(changed.sum() / textured.sum())
        return ViewChange(changed=share >= self.config.min_changed_share, share=share)

    def _tiles(self, image: np.ndarray) -> np.ndarray:
        """(TILES, TILES, th, tw) float32 grey tiles of a copy `work_width` pixels wide."""
        width = self.config.work_width - self.config.work_width % TILES
        height = max(TILES, round(width * image.shape[0] / image.shape[1] / TILES) * TILES)
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return grey.reshape(TILES, height // TILES, TILES, width // TILES).transpose(0, 2, 1, 3)
