"""View changes: a hard cut in an edited recording, a camera switching preset, a re-aim.

No dwell may span a change of view: the object seen before it and the one seen after it are not
known to be the same thing, even at the same pixels. This runs for every camera (scene model on or
off) on each analysed frame against the last frame it could judge, on a small grey copy
(`work_width`, shrunk by a whole factor like the scene model's) cut into `columns` tiles across
(16 x 12 for 4:3). A tile textured in both frames counts as changed when its zero-mean grey
pattern correlates below `tile_correlation` with the same tile before (normalised
cross-correlation: a global change of light, auto-exposure or gamma leaves it near 1). The view
changed when `min_changed_share` of the compared tiles changed at once: passers-by, traffic or
rain change some tiles, a cut, a zoom, a flip or a re-aim of a few percent of the width nearly
all. Small tiles make a shift of 5% of the width change most of them, while a crowd still leaves
the ground and the buildings between the walkers to match. A mast shaking in the wind moves the
whole picture by a few pixels between two frames: a global shift of up to `shake_tolerance` of
the width (phase correlation) is undone when the tiles then match well (changed share below 0.8 of
`min_changed_share`), so a gust is no cut; a zoom, a turn or a larger re-aim stays a change.

Tiles flat in either frame (sky, a plain wall) carry no evidence. A frame with fewer than
`min_compared` textured tiles (a covered lens, darkness: the tamper check's business) is not
judged and does not become the reference, so a cut through black is seen on the first frame of
the new view, and a lens covered and uncovered on the same view is no change. A new resolution
is a new view. Cost: two small resizes and a few (rows, columns) array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config.scene import ViewChangeConfig
from edge.scene.photometry import estimate_shift, unshift
from edge.scene.views import downscale, tile_means

_EXPLAINED = 0.8  # a shift undone must bring the changed share below this share of min_changed_share


@dataclass(frozen=True, slots=True)
class ViewChange:
    """One frame against the last judged one: `changed` when the view is another; `share` of the
    compared tiles that changed; `compared`: tiles textured in both frames (0: the frame was not judged)."""

    changed: bool = False
    share: float = 0.0
    compared: int = 0


@dataclass(frozen=True, slots=True)
class _Grey:
    """A shrunk grey frame and its per-tile mean and standard deviation ((rows, columns) each)."""

    image: np.ndarray
    mean: np.ndarray
    std: np.ndarray


class ViewChangeDetector:
    """Compares each analysed frame of one camera with the previous one it could judge."""

    def __init__(self, config: ViewChangeConfig) -> None:
        self.config = config
        self._reference: _Grey | None = None

    def update(self, image: np.ndarray) -> ViewChange:
        """Measure `image` (H, W, 3 BGR uint8) against the reference; a judged frame becomes the reference."""
        if not self.config.enabled:
            return ViewChange()
        grey = self._grey(image)
        before = self._reference
        if before is None or before.image.shape != grey.image.shape:
            self._reference = grey
            return ViewChange(changed=before is not None)  # a new resolution is a new view
        c = self.config
        textured = (before.std >= c.min_texture) & (grey.std >= c.min_texture)
        compared = int(textured.sum())
        if compared < c.min_compared * textured.size:
            return ViewChange(compared=compared)  # nothing to judge: keep the last judged frame
        self._reference = grey
        share = self._share(before, grey, textured)
        shift = estimate_shift(before.image, grey.image)
        if share >= c.min_changed_share and shift.size <= c.shake_tolerance * grey.image.shape[1]:
            # A shake, if undoing the shift makes the view match well (a zoom or a turn still does not).
            undone = self._share(before, self._tiles(unshift(grey.image, shift)), textured)
            share = undone if undone < _EXPLAINED * c.min_changed_share else share
        return ViewChange(share >= c.min_changed_share, share, compared)

    def _share(self, before: _Grey, grey: _Grey, textured: np.ndarray) -> float:
        """Share of the textured tiles whose pattern no longer correlates with the same tile before."""
        rows, columns = textured.shape
        covariance = tile_means(before.image * grey.image, columns, rows) - before.mean * grey.mean
        correlation = covariance[textured] / (before.std[textured] * grey.std[textured])
        return float((correlation < self.config.tile_correlation).mean())

    def _grey(self, image: np.ndarray) -> _Grey:
        small = cv2.cvtColor(downscale(image, self.config.work_width), cv2.COLOR_BGR2GRAY)
        return self._tiles(small.astype(np.float32))

    def _tiles(self, small: np.ndarray) -> _Grey:
        height, width = small.shape
        columns = min(self.config.columns, width)
        rows = max(2, min(height, round(columns * height / width)))
        mean = tile_means(small, columns, rows)
        std = np.sqrt(np.maximum(tile_means(small * small, columns, rows) - mean * mean, 0.0))
        return _Grey(small, mean, std)
