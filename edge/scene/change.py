"""Change-gated inference: run the detector only where a camera's zones changed.

Most street cameras look at the same parked car, the same kerb and the same empty pavement for
minutes; the detector's answer on such a frame is the answer it gave on the last frame it saw. The
gate compares each analysed frame with the last frame the detector ran on (its *reference*), on a
small grey copy (`work_width`, shrunk by a whole factor: 768 px becomes 96, one cell per 8 x 8
pixels), inside each zone's bounding box widened by `margin`. A cell changed when its mean grey
moved by `cell_threshold` levels or more; `min_changed_cells` changed cells in any one zone's region
make the detector run, and that frame becomes the reference. Otherwise the reference frame's
detections stand for this frame too.

Comparing with the reference, not with the previous frame, means a slow change (a car creeping
in, dusk) adds up until it counts; `max_reuse_s` bounds how long one detector answer may stand
whatever the measure says, and never more than half the shortest gap the camera's rules tolerate
(`gap_allowance_s`, `clear_after_s`): one missed detection standing in for several frames is then
a gap the rule rides over by design. Arrival, departure or movement of an object in a zone changes its cells
on the frame it happens, so a confirmation or a clearing is never later than without the gate
(tests/test_change_gate.py). A lighting change or a view change changes many cells: the detector
runs. Cost: one area resize and a few small array operations (bench/bench_scene.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.config.scene import ChangeGateConfig
from edge.scene.views import downscale
from edge.types import Region

Reason = Literal["reference", "changed", "aged", "unchanged"]
WHOLE_FRAME: Region = (0.0, 0.0, 1.0, 1.0)


def zone_regions(polygons: Sequence[Sequence[tuple[float, float]]], margin: float) -> list[Region]:
    """Each zone polygon's bounding box widened by `margin` on every side, clipped to the frame."""
    regions = []
    for points in polygons:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        low = (max(0.0, min(xs) - margin), max(0.0, min(ys) - margin))
        regions.append((*low, min(1.0, max(xs) + margin), min(1.0, max(ys) + margin)))
    return regions


def bounding(regions: Sequence[Region]) -> Region:
    """The smallest region holding all of `regions` (at least one)."""
    return (
        min(r[0] for r in regions),
        min(r[1] for r in regions),
        max(r[2] for r in regions),
        max(r[3] for r in regions),
    )


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """One frame against the reference: `run` the detector or reuse the reference's detections.

    reason: `reference` (no reference yet, or a new resolution), `changed`, `aged` (the reference
    is `max_reuse_s` old) or `unchanged`; changed_cells: the most changed cells in one zone's region."""

    run: bool
    reason: Reason
    changed_cells: int = 0


@dataclass(frozen=True, slots=True)
class _Reference:
    grey: np.ndarray  # (rows, columns) float32
    media_time: float


class ChangeGate:
    """Per camera: decides for each analysed frame whether the detector must see it."""

    def __init__(self, config: ChangeGateConfig, regions: Sequence[Region], tolerance_s: float | None = None) -> None:
        """`regions`: where a change matters (zone boxes, normalised); none means the whole frame.

        `tolerance_s`: the shortest gap the camera's rules ride over (gap allowance, clear-after).
        One answer stands at most half of it: a detection the reference frame missed (a flicker)
        then looks like a gap the rule tolerates by design, never like an object that left."""
        self.config = config
        self.regions = list(regions) or [WHOLE_FRAME]
        self.max_reuse_s = config.max_reuse_s if tolerance_s is None else min(config.max_reuse_s, tolerance_s / 2)
        self._reference: _Reference | None = None
        self._cells: list[tuple[slice, slice]] = []

    def check(self, image: np.ndarray, media_time: float) -> GateVerdict:
        """Judge `image` (H, W, 3 BGR uint8); a frame that must run becomes the new reference."""
        if not self.config.enabled:
            return GateVerdict(True, "changed")
        grey = cv2.cvtColor(downscale(image, self.config.work_width), cv2.COLOR_BGR2GRAY).astype(np.float32)
        before = self._reference
        if before is None or before.grey.shape != grey.shape:
            self._cells = [_cell_window(region, grey.shape) for region in self.regions]
            return self._run(GateVerdict(True, "reference"), grey, media_time)
        moved = np.abs(grey - before.grey) >= self.config.cell_threshold
        changed = max(int(moved[rows, columns].sum()) for rows, columns in self._cells)
        if changed >= self.config.min_changed_cells:
            return self._run(GateVerdict(True, "changed", changed), grey, media_time)
        if media_time - before.media_time >= self.max_reuse_s:
            return self._run(GateVerdict(True, "aged", changed), grey, media_time)
        return GateVerdict(False, "unchanged", changed)

    def reset(self) -> None:
        """Forget the reference (zones edited, a reference frame never analysed): the next frame runs."""
        self._reference = None

    def _run(self, verdict: GateVerdict, grey: np.ndarray, media_time: float) -> GateVerdict:
        self._reference = _Reference(grey, media_time)
        return verdict


def _cell_window(region: Region, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The cells (rows, columns) a normalised region covers, at least one of each."""
    rows, columns = shape[:2]
    x1, y1, x2, y2 = region
    left, top = min(int(x1 * columns), columns - 1), min(int(y1 * rows), rows - 1)
    right, bottom = max(left + 1, int(np.ceil(x2 * columns))), max(top + 1, int(np.ceil(y2 * rows)))
    return slice(top, bottom), slice(left, right)
