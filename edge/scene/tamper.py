"""Camera tamper: a moved or re-aimed view, a covered lens, heavy blur, and when each ends.

Each frame is measured against the reference view (the learned background) and the usual
look of this camera (slow averages of contrast and sharpness, so night and day are both
"usual"):
- covered: grey-level contrast collapses (a hand, a bag, paint: a dark or uniform picture);
- blurred: sharpness (Laplacian variance over grey variance, so lighting cancels out) collapses;
- moved: the centre of the reference is found shifted in the frame (normalised cross-correlation,
  robust to lighting), or much of the view differs from the background and the difference is
  spread over nearly all of it (a turn, a zoom, a re-aim beyond the search range); a bus in
  front of the camera changes as much, but in one part of the view only.
A condition must hold `confirm_s` media seconds before it is reported and be gone as long
before it ends, so one odd frame (a bus filling the view) does neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.scene.views import tile_means

TamperKind = Literal["none", "moved", "covered", "blurred"]
_SEARCH = 0.2  # the reference centre is searched within +-20% of the frame size
_GRID = 4  # spread of change is judged on a 4x4 grid of tiles
_TILE_CHANGED = 0.03  # a tile with this share of changed pixels counts as changed
_SPREAD = 0.75  # share of changed tiles that makes a change "all over the view"


@dataclass(frozen=True, slots=True)
class TamperStatus:
    """Whether the camera's view can be trusted.

    kind: what is wrong ("none" when nothing); since: media time the condition began (None when
    kind is "none"); detail: a sentence for operators with the measured values.
    """

    kind: TamperKind = "none"
    since: float | None = None
    detail: str = ""

    @property
    def active(self) -> bool:
        return self.kind != "none"


@dataclass(frozen=True, slots=True)
class _Look:
    contrast: float  # std of grey levels
    sharpness: float  # var(Laplacian) / var(grey)


def _look(grey: np.ndarray) -> _Look:
    variance = float(grey.var())
    laplacian = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    return _Look(contrast=variance**0.5, sharpness=laplacian / max(variance, 1e-6))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one frame shows, before debouncing: the kind, why, and how the frame looked."""

    kind: TamperKind
    detail: str
    look: _Look


class TamperDetector:
    """Measures one frame against the reference view and debounces the verdicts over media time."""

    def __init__(
        self,
        confirm_s: float,
        tau_s: float,
        move_threshold: float,
        moved_changed_fraction: float,
        cover_contrast: float,
        blur_ratio: float,
    ) -> None:
        self.confirm_s = confirm_s
        self.tau_s = tau_s
        self.move_threshold = move_threshold
        self.moved_changed_fraction = moved_changed_fraction
        self.cover_contrast = cover_contrast
        self.blur_ratio = blur_ratio
        self._usual: _Look | None = None
        self._last_time: float | None = None
        self._status = TamperStatus()
        self._onset: float | None = None  # first frame of a condition not yet reported
        self._back_since: float | None = None  # first good frame while a condition is reported

    @property
    def status(self) -> TamperStatus:
        return self._status

    def start(self, grey: np.ndarray, t: float) -> None:
        """Learn the usual look from a first good (H, W) float32 grey frame."""
        self._usual = _look(grey)
        self._last_time = t

    def measure(self, grey: np.ndarray, reference: np.ndarray, changed: np.ndarray) -> Verdict:
        """The raw verdict for one (H, W) float32 grey frame against the (H, W) reference view.

        changed: (H, W) bool, the pixels that differ from the background.
        """
        assert self._usual is not None
        look = _look(grey)
        usual = self._usual
        if look.contrast < self.cover_contrast * usual.contrast:
            return Verdict("covered", f"contrast {look.contrast:.1f} against a usual {usual.contrast:.1f}", look)
        if look.sharpness < self.blur_ratio * usual.sharpness:
            detail = f"sharpness {look.sharpness:.3f} against a usual {usual.sharpness:.3f}"
            return Verdict("blurred", detail, look)
        height, width = reference.shape
        mx, my = max(1, int(width * _SEARCH)), max(1, int(height * _SEARCH))
        scores = cv2.matchTemplate(grey, reference[my : height - my, mx : width - mx], cv2.TM_CCOEFF_NORMED)
        _, peak, _, (x, y) = cv2.minMaxLoc(scores)
        dx, dy = x - mx, y - my
        shift = float(np.hypot(dx, dy)) / grey.shape[1]
        if shift >= self.move_threshold:
            detail = f"view shifted by {dx:+d}, {dy:+d} px of {grey.shape[1]} (match {peak:.2f})"
            return Verdict("moved", detail, look)
        fraction = float(changed.mean())
        tiles = tile_means(changed.astype(np.float32), _GRID, _GRID)
        spread = float((tiles >= _TILE_CHANGED).mean())
        if fraction >= self.moved_changed_fraction and spread >= _SPREAD:
            detail = f"{fraction:.0%} of the view differs from the reference, in {spread:.0%} of it"
            return Verdict("moved", detail, look)
        return Verdict("none", "", look)

    def update(self, verdict: Verdict, t: float) -> TamperStatus:
        """Debounce a raw verdict at media time `t`; learn the usual look from good frames."""
        dt = max(0.0, t - (self._last_time if self._last_time is not None else t))
        self._last_time = t
        kind, detail = verdict.kind, verdict.detail
        if kind == "none":
            self._onset = None
            self._learn_look(verdict.look, dt)
            if self._status.active:
                self._back_since = t if self._back_since is None else self._back_since
                if t - self._back_since >= self.confirm_s:
                    self._status, self._back_since = TamperStatus(), None
            return self._status
        self._back_since = None
        if self._status.active:
            self._status = TamperStatus(kind, self._status.since, detail)
            return self._status
        self._onset = t if self._onset is None else self._onset
        if t - self._onset >= self.confirm_s:
            self._status, self._onset = TamperStatus(kind, self._onset, detail), None
        return self._status

    def _learn_look(self, look: _Look, dt: float) -> None:
        assert self._usual is not None
        alpha = 1.0 - float(np.exp(-dt / self.tau_s))
        self._usual = _Look(
            self._usual.contrast + alpha * (look.contrast - self._usual.contrast),
            self._usual.sharpness + alpha * (look.sharpness - self._usual.sharpness),
        )

    def shift_times(self, delta: float) -> None:
        """Move stored media times by `delta` seconds (the source's clock restarted)."""
        if self._last_time is not None:
            self._last_time += delta
        if self._onset is not None:
            self._onset += delta
        if self._back_since is not None:
            self._back_since += delta
        if self._status.since is not None:
            self._status = TamperStatus(self._status.kind, self._status.since + delta, self._status.detail)
