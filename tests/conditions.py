"""Day, night and weather composited onto real vtest frames: dusk, infrared, rain, wind, a streetlight,
headlights sweeping the road at night with the camera's auto-gain overshooting, a cloud shadow.

Each condition is an `Edit` (media time, BGR image) -> BGR image, deterministic (its noise is seeded
by the frame's time), so tests and `scripts/make_condition_clips.py` make the same pictures. They are
applied on top of the other edits of a clip (litter, tamper), so real events must be found under them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

Edit = Callable[[float, np.ndarray], np.ndarray]
ROAD_BAND = (0.0, 0.42, 1.0, 0.85)  # normalised x1, y1, x2, y2 of the vtest road and plaza the rain wets


def _rng(t: float, salt: int) -> np.random.Generator:
    return np.random.default_rng([round(t * 1000), salt])


def _ramp(t: float, start: float, duration: float) -> float:
    return float(min(max((t - start) / duration, 0.0), 1.0))


def _noisy(image: np.ndarray, sigma: float, t: float) -> np.ndarray:
    """Sensor noise, rendered at quarter size and enlarged: real grain is not per-pixel white noise."""
    if sigma <= 0:
        return image
    height, width = image.shape[:2]
    grain = _rng(t, 1).normal(0.0, sigma, (height // 2, width // 2, 1)).astype(np.float32)
    return image + cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]


def dusk(start: float, duration: float, depth: float = 1.0) -> Edit:
    """Light falls over `duration` s: gain to 0.3x, a steeper tone curve, bluer, sensor noise rising."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        share = depth * _ramp(t, start, duration)
        if share <= 0:
            return image
        x = image.astype(np.float32) / 255.0
        x = np.power(x, 1.0 + 0.7 * share) * (1.0 - 0.7 * share)
        x *= np.array([1.0 + 0.25 * share, 1.0, 1.0 - 0.2 * share], np.float32)  # BGR: bluer
        out = _noisy(x * 255.0, 5.0 * share, t)
        return np.clip(out, 0, 255).astype(np.uint8)

    return edit


def to_infrared(image: np.ndarray, t: float) -> np.ndarray:
    """The camera's night mode: one grey channel, vegetation bright (it reflects near infrared),
    bloom around bright spots and grain."""
    b, g, r = (image[..., i].astype(np.float32) for i in range(3))
    leaves = np.clip(g - 0.5 * (r + b), 0, None)  # green beyond the other two: plants
    grey = 0.35 * r + 0.4 * g + 0.25 * b + 3.0 * leaves
    grey = 0.9 * grey + 12.0
    bright = np.clip(grey - 180.0, 0, None)
    grey += 0.8 * cv2.GaussianBlur(bright, (0, 0), 6.0)
    grey = cv2.GaussianBlur(grey, (0, 0), 0.8)  # infrared optics are softer
    grey = _noisy(grey[..., None], 4.0, t)[..., 0]
    out = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def infrared(on: float, off: float = float("inf")) -> Edit:
    """The switch to infrared at `on` and back to colour at `off`."""
    return lambda t, image: to_infrared(image, t) if on <= t < off else image


@lru_cache(maxsize=2)
def _wet_pattern(height: int, width: int) -> np.ndarray:
    """(H, W) float32 0-1: where water gathers on the road (blotches of the surface, soft edges)."""
    x1, y1, x2, y2 = ROAD_BAND
    blotches = np.random.default_rng(11).random((12, 16)).astype(np.float32)
    field = cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    band = np.zeros((height, width), np.float32)
    band[int(y1 * height) : int(y2 * height), int(x1 * width) : int(x2 * width)] = 1.0
    band = cv2.GaussianBlur(band, (0, 0), 12.0)
    return np.clip((field - 0.35) * 2.5, 0, 1) * band


def rain(start: float, wet_after_s: float = 20.0) -> Edit:
    """A shower from `start`: haze, moving streaks, a few drops on the dome and a road that darkens
    (wet patches, 45% darker at most) over `wet_after_s` seconds."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if t < start:
            return image
        height, width = image.shape[:2]
        wet = _wet_pattern(height, width) * 0.45 * _ramp(t, start, wet_after_s)
        out = image.astype(np.float32) * (1.0 - wet[..., None])
        out = 0.88 * out + 0.12 * 150.0  # haze
        rng = _rng(t, 2)
        streaks = np.zeros((height, width), np.float32)
        for x, y, length in zip(
            rng.integers(0, width, 160), rng.integers(0, height, 160), rng.integers(15, 40, 160), strict=True
        ):
            cv2.line(streaks, (int(x), int(y)), (int(x) + int(length) // 4, int(y) + int(length)), 1.0, 1)
        out += 35.0 * cv2.GaussianBlur(streaks, (0, 0), 0.7)[..., None]
        drops = np.random.default_rng(int((t - start) // 30) + 5)  # the dome's drops change every 30 s
        for x, y in zip(drops.integers(0, width, 4), drops.integers(0, height, 4), strict=True):
            x0, y0 = max(0, int(x) - 14), max(0, int(y) - 14)
            patch = out[y0 : y0 + 28, x0 : x0 + 28]
            out[y0 : y0 + 28, x0 : x0 + 28] = cv2.GaussianBlur(patch, (0, 0), 4.0)
        return np.clip(out, 0, 255).astype(np.uint8)

    return edit


def wind(start: float, low_px: float, high_px: float, roll_deg: float = 0.3, end: float = float("inf")) -> Edit:
    """A mast in the wind: each frame displaced by low_px-high_px in a random direction, slightly rolled."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if not start <= t < end:
            return image
        rng = _rng(t, 3)
        angle, size = rng.uniform(0, 2 * np.pi), rng.uniform(low_px, high_px)
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-roll_deg, roll_deg), 1.0)
        matrix[:, 2] += (size * np.cos(angle), size * np.sin(angle))
        return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)

    return edit


def streetlight(on: float, centre: tuple[float, float] = (0.55, 0.55), radius: float = 0.22) -> Edit:
    """A sodium lamp switching on at `on` (after a 4 s warm-up): a warm pool of light on the ground."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        level = _ramp(t, on, 4.0)
        if level <= 0:
            return image
        height, width = image.shape[:2]
        ys, xs = np.ogrid[:height, :width]
        distance = np.hypot(xs / width - centre[0], (ys / height - centre[1]) * height / width)
        pool = np.exp(-((distance / radius) ** 2)).astype(np.float32) * level
        lit = image.astype(np.float32) * (1.0 + 0.9 * pool[..., None]) + pool[..., None] * np.array(
            [5.0, 25.0, 40.0], np.float32
        )
        return np.clip(lit, 0, 255).astype(np.uint8)

    return edit


def headlights(start: float, every_s: float = 10.0, cross_s: float = 3.0) -> Edit:
    """From `start`, a car's headlights every `every_s` seconds: a bright pool sweeping along the road
    in `cross_s` seconds, and the camera's auto-gain reacting late: 0.65x while the lights are in view,
    overshooting to 1.25x for 2 s after, then back."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if t < start:
            return image
        phase = (t - start) % every_s
        if phase >= cross_s + 2.0:
            return image
        height, width = image.shape[:2]
        out = image.astype(np.float32)
        if phase < cross_s:
            x = -0.2 + 1.4 * phase / cross_s  # the pool's centre, normalised, left to right
            ys, xs = np.ogrid[:height, :width]
            pool = np.exp(-(((xs / width - x) / 0.12) ** 2) - (((ys / height - 0.62) / 0.06) ** 2)).astype(np.float32)
            out = out * (1.0 + 1.5 * pool[..., None]) + 90.0 * pool[..., None]
            out *= 0.65
        else:
            out *= 1.25
        return np.clip(out, 0, 255).astype(np.uint8)

    return edit


def cloud_shadow(start: float, cross_s: float = 60.0, darker: float = 0.4, width: float = 0.5) -> Edit:
    """A cloud's shadow crossing the view from `start`: a soft band `darker` (40%) darker and `width`
    (half) of the view wide, drifting from left to right in `cross_s` seconds."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if t < start or t > start + cross_s:
            return image
        size = image.shape[1]
        left = -width + (1.0 + width) * (t - start) / cross_s
        xs = np.arange(size, dtype=np.float32) / size
        inside = 1.0 / (1.0 + np.exp(-(xs - left) / 0.03)) - 1.0 / (1.0 + np.exp(-(xs - left - width) / 0.03))
        gain = 1.0 - darker * inside
        return np.clip(image.astype(np.float32) * gain[None, :, None], 0, 255).astype(np.uint8)

    return edit


def combined(*edits: Edit) -> Edit:
    """The edits applied in order (an event first, then the light and the weather over it)."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        for step in edits:
            image = step(t, image)
        return image

    return edit


CONDITIONS: dict[str, Edit] = {
    "dusk": dusk(12.0, 40.0),
    "infrared": combined(dusk(12.0, 20.0, depth=0.6), infrared(35.0, 65.0)),
    "rain": rain(12.0),
    "wind": wind(12.0, 1.0, 4.0),
    "gust": combined(wind(12.0, 1.0, 4.0), wind(30.0, 2.0, 8.0, end=45.0)),
    "streetlight": combined(dusk(12.0, 15.0, depth=0.5), streetlight(30.0)),
    "headlights": combined(dusk(12.0, 10.0, depth=0.6), headlights(25.0)),
    "cloud": cloud_shadow(15.0),
}
"""Each condition alone over the clip, starting after the scene model's 10 s warm-up."""

NIGHT: dict[str, Edit] = {
    "dusk": dusk(5.0, 20.0, depth=0.6),
    "infrared": combined(dusk(5.0, 15.0, depth=0.6), infrared(30.0)),
}
"""Night falling over the litter and tamper composite (tests/test_replay_scene.py, 115 s), to 0.55x
gain (at the full dusk depth, 0.3x, the bundled detector loses the parked van): the infrared switch
comes while the litter lies on the road."""
