"""Long-term background of one downscaled camera view, and which pixels differ from it persistently.

Why not OpenCV's MOG2/KNN: their learning rate is per frame, while analysed frames arrive seconds
apart at a varying rate, and they absorb a left object within their history. Here the background
adapts by media time (`1 - exp(-dt / tau)`), only where the background is visible, so a new object
stays "changed" until it leaves. The background is kept in the lighting of the moment it was learned;
each frame is brought to that lighting by a per-channel gain (median ratio over background pixels),
so dusk, clouds and auto-exposure are not change, and pixels under an object stay comparable.

All images are (H, W, 3) float32 BGR at the working size; masks are (H, W) bool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MAX_LEARN_FRAMES = 24  # the warm-up median needs a handful of frames, not all of them
_MIN_GAIN_LEVEL = 20.0  # background pixels darker than this give no reliable lighting ratio
_SATURATED = 250.0  # frame pixels this bright may be clipped: their true level is unknown
_GAIN_SAMPLES = 4096  # the lighting ratio's median needs a sample of the view, not every pixel


def channel_max(image: np.ndarray) -> np.ndarray:
    """(H, W) largest of the 3 channels; numpy's `max(axis=2)` is ~100x slower on (H, W, 3)."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def channel_min(image: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])


@dataclass(frozen=True, slots=True)
class Change:
    """One frame compared with the background (nothing committed yet).

    normalised: (H, W, 3) float32, the frame in the background's lighting; diff: (H, W) float32
    largest channel difference from the background; changed: (H, W) bool, with hysteresis
    against the previous mask; still: (H, W) bool, pixels that look as in the last committed
    frame (not moving); saturated: (H, W) bool, pixels clipped white in the frame;
    gain: (3,) per-channel lighting ratio frame / background.
    """

    normalised: np.ndarray
    diff: np.ndarray
    changed: np.ndarray
    still: np.ndarray
    saturated: np.ndarray
    gain: np.ndarray


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

    def compare(self, small: np.ndarray) -> Change:
        """Lighting-compensate the frame and mark the pixels that differ from the background."""
        assert self.image is not None and self.changed is not None and self.previous is not None
        saturated = channel_max(small) >= _SATURATED
        usable = ~saturated & (channel_min(self.image) > _MIN_GAIN_LEVEL)
        visible = np.flatnonzero(usable & ~self.changed)
        if len(visible) < 0.05 * usable.size:
            visible = np.flatnonzero(usable)
        if len(visible):
            sample = visible[:: max(1, len(visible) // _GAIN_SAMPLES)]
            ratio = small.reshape(-1, 3)[sample] / self.image.reshape(-1, 3)[sample]
            gain = np.clip(np.median(ratio, axis=0), 0.05, 20.0).astype(np.float32)
        else:
            gain = np.ones(3, np.float32)
        normalised = small / gain
        # Where the background, lit like the frame, would clip white, a clipped frame pixel matches it.
        diff = channel_max(np.abs(normalised - np.minimum(self.image, 255.0 / gain)))
        # Hysteresis: a changed pixel stays changed until it is clearly back, so edges don't flicker.
        changed = (diff > self.threshold) | (self.changed & (diff > 0.5 * self.threshold))
        still = channel_max(np.abs(normalised - self.previous)) <= self.threshold
        return Change(normalised, diff, changed, still, saturated, gain)

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
