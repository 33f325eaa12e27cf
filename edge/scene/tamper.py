"""Camera tamper: a moved or re-aimed view, a covered lens, heavy blur, and when each ends.

Each frame is measured against the reference view (the learned background) and the usual
look of this camera in its current mode (slow averages of contrast and sharpness, kept apart for
the colour and the infrared picture, since infrared is softer). Each verdict rests on what the
condition does to the scene's structure (its edges), never on light alone:
- covered: grey-level contrast collapses and the reference's edges are gone (a hand, a bag, paint);
  dusk lowers the contrast as much but keeps the edges;
- blurred: sharpness (Laplacian variance less the sensor noise's share of it, over grey variance,
  so lighting cancels out and grain in a dark picture does not pass for detail) collapses;
- moved: the whole view is found shifted against the reference by more than a shake (phase
  correlation: the phases of the picture's frequencies, which light does not move), or much of the view differs from the
  background, spread over nearly all of it, and the reference's edges are not where they were (a
  turn, a zoom, a re-aim beyond the search range); dusk, rain or a shadow change as much of the
  view but leave the edges in place.
A condition must hold `confirm_s` media seconds before it is reported and be gone as long
before it ends, so one odd frame (a bus filling the view) does neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.scene.photometry import Shift
from edge.scene.views import tile_means

TamperKind = Literal["none", "moved", "covered", "blurred"]
_GRID = 4  # spread of change is judged on a 4x4 grid of tiles
_TILE_CHANGED = 0.03  # a tile with this share of changed pixels counts as changed
_SPREAD = 0.75  # share of changed tiles that makes a change "all over the view"
_COVERED_STRUCTURE = 0.3  # below this edge similarity to the reference, a dark view is covered, not night
_MOVED_STRUCTURE = 0.45  # below this edge similarity, a view changed all over is another view


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
    sharpness: float  # (var(Laplacian) - the noise's part of it) / var(grey)


# Immerkaer's noise estimate: this kernel cancels smooth structure, so the mean absolute response is
# mostly the noise's (sigma = sqrt(pi / 2) / 6 of it); white noise of sigma adds 20 sigma^2 to var(Laplacian).
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _look(grey: np.ndarray) -> _Look:
    variance = float(grey.var())
    laplacian = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    response = cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1]
    noise = float(np.abs(response).mean()) * np.sqrt(np.pi / 2.0) / 6.0
    detail = max(laplacian - 20.0 * noise**2, 0.0)
    return _Look(contrast=variance**0.5, sharpness=detail / max(variance, 1e-6))


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
        self._usual_by_kind: dict[str, _Look] = {}  # per picture kind ("colour", "infrared")
        self._kind = "colour"
        self._last_time: float | None = None
        self._status = TamperStatus()
        self._onset: float | None = None  # first frame of a condition not yet reported
        self._back_since: float | None = None  # first good frame while a condition is reported

    @property
    def status(self) -> TamperStatus:
        return self._status

    def start(self, grey: np.ndarray, t: float, kind: str = "colour") -> None:
        """Take the usual look of picture `kind` (kept from before, else from this first good
        (H, W) float32 grey frame)."""
        if self._usual is not None:
            self._usual_by_kind[self._kind] = self._usual
        self._kind = kind
        self._usual = self._usual_by_kind.get(kind) or _look(grey)
        self._last_time = t

    def look(self, grey: np.ndarray, similarity: float) -> Verdict:
        """Covered or blurred: one (H, W) float32 grey frame against the usual look of its mode.

        similarity: how well the frame's edges match the reference's (photometry.structure_similarity).
        """
        assert self._usual is not None
        look = _look(grey)
        usual = self._usual
        if look.contrast < self.cover_contrast * usual.contrast and similarity < _COVERED_STRUCTURE:
            detail = f"contrast {look.contrast:.1f} against a usual {usual.contrast:.1f}, edges {similarity:.2f}"
            return Verdict("covered", detail, look)
        if look.sharpness < self.blur_ratio * usual.sharpness:
            detail = f"sharpness {look.sharpness:.3f} against a usual {usual.sharpness:.3f}"
            return Verdict("blurred", detail, look)
        return Verdict("none", "", look)

    def measure(self, grey: np.ndarray, displacement: Shift, changed: np.ndarray, similarity: float) -> Verdict:
        """The raw verdict for one (H, W) float32 grey frame against the reference view.

        displacement: of the frame against the reference (phase correlation, lighting-proof);
        changed: (H, W) bool, the pixels that differ from the background; similarity: of the
        frame's edges (after undoing a shake) to the reference's.
        """
        verdict = self.look(grey, similarity)
        if verdict.kind != "none":
            return verdict
        look = verdict.look
        dx, dy = displacement.dx, displacement.dy
        if displacement.size / grey.shape[1] >= self.move_threshold:
            detail = f"view shifted by {dx:+.0f}, {dy:+.0f} px of {grey.shape[1]} (match {displacement.response:.2f})"
            return Verdict("moved", detail, look)
        fraction = float(changed.mean())
        tiles = tile_means(changed.astype(np.float32), _GRID, _GRID)
        spread = float((tiles >= _TILE_CHANGED).mean())
        if fraction >= self.moved_changed_fraction and spread >= _SPREAD and similarity < _MOVED_STRUCTURE:
            detail = (
                f"{fraction:.0%} of the view differs from the reference, in {spread:.0%} of it, edges {similarity:.2f}"
            )
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
