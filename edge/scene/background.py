"""Long-term background of one downscaled camera view, and which pixels differ from it persistently.

Why not OpenCV's MOG2/KNN: their learning rate is per frame, while analysed frames arrive seconds
apart at a varying rate, and they absorb a left object within their history. Here the background
adapts by media time (`1 - exp(-dt / tau)`), only where the background is visible, so a new object
stays "changed" until it leaves. The background is kept in the light of the moment it was learned;
each frame is first moved back onto it when wind shook the camera (phase correlation, up to
`shift_limit` pixels), evened out where part of it lies in a cloud's shadow (a smooth gain over
tiles wider than an object), then brought to that light by a per-channel tone curve fitted on background
pixels (edge/scene/photometry.py), so dusk, gain, gamma, white balance, haze and auto-exposure are
not change, and pixels under an object stay comparable.

All images are (H, W, 3) float32 BGR at the working size; masks are (H, W) bool.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge.scene.photometry import Shift, apply_tone, estimate_shift, fit_shading, fit_tone, unshift

_MAX_LEARN_FRAMES = 24  # the warm-up median needs a handful of frames, not all of them
_SATURATED = 250  # frame pixels this bright may be clipped: their true level is unknown
_RECENT_FRAMES = 5  # the recent view is the median of this many committed frames


def channel_max(image: np.ndarray) -> np.ndarray:
    """(H, W) largest of the 3 channels; numpy's `max(axis=2)` is ~100x slower on (H, W, 3)."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def channel_min(image: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])


@dataclass(frozen=True, slots=True)
class Change:
    """One frame compared with the background (nothing committed yet).

    normalised: (H, W, 3) float32, the frame on the background's pixels and in its light; diff:
    (H, W) float32 largest channel difference from the background; changed: (H, W) bool, with
    hysteresis against the previous mask; still: (H, W) bool, pixels that look as in the last
    committed frame (not moving); saturated: (H, W) bool, pixels clipped white in the frame;
    displacement: the whole view's shift against the background (phase correlation); shift: the
    shake undone (the displacement when at most `shift_limit`, else zero).
    """

    normalised: np.ndarray
    diff: np.ndarray
    changed: np.ndarray
    still: np.ndarray
    saturated: np.ndarray
    displacement: Shift
    shift: Shift


class Background:
    """Per-pixel background, changed mask and the media time each pixel started to differ."""

    def __init__(self, warmup_s: float, tau_s: float, threshold: float) -> None:
        self.warmup_s = warmup_s
        self.tau_s = tau_s
        self.threshold = threshold
        self._learn: list[np.ndarray] = []
        self._learn_start: float | None = None
        self._last_learned = -np.inf
        self.image: np.ndarray | None = None  # (H, W, 3) float32, None while learning
        self.changed: np.ndarray | None = None  # (H, W) bool
        self.changed_since: np.ndarray | None = None  # (H, W) float64 media time, NaN where unchanged
        self.previous: np.ndarray | None = None  # (H, W, 3) float32, last committed normalised frame
        self._history: deque[np.ndarray] = deque(maxlen=_RECENT_FRAMES)  # committed normalised frames
        self.last_time: float | None = None

    @property
    def learning(self) -> bool:
        return self.image is None

    def learn(self, small: np.ndarray, t: float) -> bool:
        """Collect warm-up frames; returns True once the median background is in place."""
        if self._learn_start is None:
            self._learn_start = t
        step = self.warmup_s / _MAX_LEARN_FRAMES
        if t - self._last_learned >= step:
            self._learn.append(small)
            self._last_learned = t
        if t - self._learn_start < self.warmup_s:
            return False
        # The median leaves out whoever walked through during the warm-up.
        self.image = np.median(np.stack(self._learn), axis=0).astype(np.float32)
        self._learn = []
        height, width = small.shape[:2]
        self.changed = np.zeros((height, width), bool)
        self.changed_since = np.full((height, width), np.nan)
        self.previous = self.image.copy()
        self.last_time = t
        return True

    def compare(self, small: np.ndarray, shift_limit: float) -> Change:
        """Undo a shake, bring the (H, W, 3) uint8 frame into the background's light and mark the
        pixels that differ from the background."""
        assert self.image is not None and self.changed is not None and self.previous is not None
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        displacement = estimate_shift(cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY), grey)
        shift = displacement if displacement.size <= shift_limit else Shift(response=displacement.response)
        small = unshift(small, shift)
        saturated = channel_max(small) >= _SATURATED
        shade = fit_shading(small, self.image)
        if shade is not None:  # part of the view in a cloud's shadow: lit as the rest first
            small = np.clip(small * shade[..., None] + 0.5, 0, 255).astype(np.uint8)
        usable = ~saturated & ~self.changed
        if usable.sum() < 0.05 * usable.size:
            usable = ~saturated
        table = fit_tone(small, self.image, usable)
        normalised = apply_tone(small, table)
        # A clipped frame pixel is at least as bright as the table's top: it matches any background above it.
        clipped = np.maximum(table[255] - self.image, 0.0)
        diff = channel_max(np.where(saturated[..., None], clipped, np.abs(normalised - self.image)))
        # Hysteresis: a changed pixel stays changed until it is clearly back, so edges don't flicker.
        changed = (diff > self.threshold) | (self.changed & (diff > 0.5 * self.threshold))
        still = channel_max(np.abs(normalised - self.previous)) <= self.threshold
        return Change(normalised, diff, changed, still, saturated, displacement, shift)

    def recent(self) -> np.ndarray:
        """(H, W, 3) float32 median of the last few committed frames: what stays, without rain
        streaks, grain or passers-by."""
        assert self._history, "no frame committed yet"
        return np.median(np.stack(self._history), axis=0) if len(self._history) > 2 else self._history[-1]

    def age(self, t: float) -> np.ndarray:
        """(H, W) float64 seconds each pixel has differed from the background; 0 where it doesn't."""
        assert self.changed_since is not None
        return np.nan_to_num(t - self.changed_since, nan=0.0)

    def commit(self, change: Change, t: float, resumed: bool = False) -> None:
        """Adopt the frame: update the changed mask and its start times, adapt visible background.

        resumed: the view was not watched since the last commit (tamper, long gap), so nothing is
        known to have stayed through it: every changed pixel starts its persistence anew.
        """
        assert self.image is not None and self.changed is not None and self.changed_since is not None
        dt = max(0.0, t - (self.last_time if self.last_time is not None else t))
        started = change.changed if resumed else change.changed & ~self.changed
        self.changed_since = np.where(started, t, np.where(change.changed, self.changed_since, np.nan))
        self.changed = change.changed
        alpha = np.float32(1.0 - np.exp(-dt / self.tau_s))
        visible = (~change.changed & ~change.saturated)[..., None]
        self.image += (alpha * visible) * (change.normalised - self.image)
        if resumed:
            self._history.clear()
        self._history.append(change.normalised)
        self.previous = change.normalised
        self.last_time = t

    def restart(self, mask: np.ndarray, t: float) -> None:
        """Pixels under `mask` (H, W) that still differ start their persistence at `t`: what made
        them differ has left, so whatever differs there now is new."""
        assert self.changed is not None and self.changed_since is not None
        self.changed_since[mask & self.changed] = t

    def absorb(self, mask: np.ndarray, change: Change) -> None:
        """Make the frame's content under `mask` (H, W) background at once (e.g. a ghost)."""
        assert self.image is not None and self.changed is not None and self.changed_since is not None
        self.image[mask] = change.normalised[mask]
        self.changed[mask] = False
        self.changed_since[mask] = np.nan

    def shift_times(self, delta: float) -> None:
        """Move stored media times by `delta` seconds (the source's clock restarted)."""
        if self.changed_since is not None:
            self.changed_since += delta
        if self.last_time is not None:
            self.last_time += delta
        if self._learn_start is not None:
            self._learn_start += delta
            self._last_learned += delta

    def keep_objects(self, mask: np.ndarray, since: float) -> None:
        """After a re-learn (the camera switched between colour and infrared): the objects under
        `mask` (H, W) bool are not background. The background there is filled in from around it and
        those pixels differ since `since`, so the objects go on and end when their ground shows again."""
        assert self.image is not None and self.changed is not None and self.changed_since is not None
        if not mask.any():
            return
        hole = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
        filled = cv2.inpaint(np.clip(self.image, 0, 255).astype(np.uint8), hole, 3, cv2.INPAINT_TELEA)
        self.image = filled.astype(np.float32)
        self.changed |= mask
        self.changed_since[mask] = since
