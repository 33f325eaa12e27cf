"""What a camera's light and mount do to the whole picture, so the scene model can undo it.

- Tone: the camera's gain, gamma/tone curve, white balance and haze change every pixel of a
  channel by the same monotone curve. `fit_tone` learns that curve per channel from pairs (frame
  level, background level) of background pixels (binned medians: walkers and objects are outliers),
  as a 256-entry lookup table that brings the frame into the background's light.
- Shade: a cloud's shadow darkens part of the view, which no one curve for the whole picture can map.
  `fit_shading` measures what is left after the tone curve as a smooth gain per tile of the view,
  median-filtered over 5x5 tiles so that only light spread wider than an object is taken out.
- Shake: wind moves the picture by a pixel or two. `register` finds the shift by phase correlation
  and undoes it when it is small (a larger one is a moved camera, the tamper check's business).
- Mode: `camera_mode` tells day, low light and the infrared (grey) night picture apart.
- Structure: edges are what light does not make. `structure_similarity` correlates the gradient
  magnitudes of two pictures (a dimmer, noisier, bluer view of the same scene keeps its edges; a
  covered lens or another view does not); `new_structure` measures edges in a region of the frame
  that the background there, lit as the frame is, does not explain (a box does; wet asphalt, a
  shadow or a pool of lamplight does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

CameraMode = Literal["day", "low_light", "infrared"]
_TONE_BINS = 16  # knots of the per-channel tone curve
_TONE_SAMPLES = 4096  # pixel pairs the curve is fitted on
_LEVELS = np.arange(256, dtype=np.float32)
_MIN_RESPONSE = 0.05  # a phase-correlation peak weaker than this is no shift estimate (a flat or busy view)
_SHADE_TILE = 12  # working pixels per side of a tile of the shading field
_SHADE_DEADBAND = 0.05  # log gain left to the tone curve (about 5%)
_MIN_UNDONE = 0.75  # working pixels: below, phase correlation jitters with the passers-by (no shake to undo)


def fit_tone(frame: np.ndarray, background: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """(256, 3) float32 table: frame level -> background level, per channel, from `usable` pixels.

    frame: (H, W, 3) uint8; background: (H, W, 3) float32; usable: (H, W) bool. Fewer than 64 usable
    pixels give the identity.
    """
    index = np.flatnonzero(usable)
    table = np.repeat(_LEVELS[:, None], 3, axis=1)
    if len(index) < 64:
        return table
    index = index[:: max(1, len(index) // _TONE_SAMPLES)]
    index = index[: len(index) - len(index) % _TONE_BINS]  # equal bins
    seen = frame.reshape(-1, 3)[index].astype(np.float32).T  # (3, N)
    known = background.reshape(-1, 3)[index].T
    order = np.argsort(seen, axis=1, kind="stable")
    # Knots: per channel, the median frame level and the median background level of each bin of frame levels.
    knots_x = np.median(np.take_along_axis(seen, order, axis=1).reshape(3, _TONE_BINS, -1), axis=2)
    knots_y = np.median(np.take_along_axis(known, order, axis=1).reshape(3, _TONE_BINS, -1), axis=2)
    for channel in range(3):
        xs, unique = np.unique(knots_x[channel], return_index=True)
        ys = np.maximum.accumulate(knots_y[channel][unique])  # the camera's curve never turns back
        if len(xs) == 1:  # one level everywhere: a pure gain
            table[:, channel] = _LEVELS * (ys[0] / max(xs[0], 1.0))
            continue
        # Beyond the knots, go on with the slope of the outer segments (not flat: a bright object stays bright).
        low = (ys[1] - ys[0]) / max(xs[1] - xs[0], 1e-3)
        high = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-3)
        curve = np.interp(_LEVELS, xs, ys)
        curve = np.where(xs[0] > _LEVELS, ys[0] + low * (_LEVELS - xs[0]), curve)
        table[:, channel] = np.where(xs[-1] < _LEVELS, ys[-1] + high * (_LEVELS - xs[-1]), curve)
    return np.clip(table, 0.0, 400.0)


def fit_shading(frame: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """(H, W) float32 gain that brings part of the uint8 frame (H, W, 3) lit differently from the rest
    (a cloud's shadow) to the light of the rest, as seen against the background; None where the
    light is even (the tone curve's job).

    Per tile of `_SHADE_TILE` pixels, the median log ratio of background to frame grey level (walkers,
    objects, rain streaks and wet patches are outliers), less the median over all tiles (the light of
    the whole view), then the median over 5x5 tiles: an object must fill most of a quarter of the
    view's width to pass for shade; a shadow's band passes with its edge in place. Tiles within
    `_SHADE_DEADBAND` are left alone.
    """
    height, width = frame.shape[:2]
    rows, columns = height // _SHADE_TILE, width // _SHADE_TILE
    if rows < 5 or columns < 5:
        return None
    size = (columns * _SHADE_TILE, rows * _SHADE_TILE)
    seen = cv2.cvtColor(frame[: size[1], : size[0]], cv2.COLOR_BGR2GRAY).astype(np.float32)
    known = cv2.cvtColor(background[: size[1], : size[0]], cv2.COLOR_BGR2GRAY)
    ratio = np.log((known + 2.0) / (seen + 2.0))
    cells = ratio.reshape(rows, _SHADE_TILE, columns, _SHADE_TILE).transpose(0, 2, 1, 3).reshape(rows, columns, -1)
    tiles = np.median(cells, axis=2)
    tiles = cv2.medianBlur((tiles - np.median(tiles)).astype(np.float32), 5)
    tiles[np.abs(tiles) < _SHADE_DEADBAND] = 0.0
    if not tiles.any():
        return None
    field = cv2.resize(tiles, size, interpolation=cv2.INTER_LINEAR)
    field = cv2.copyMakeBorder(field, 0, height - size[1], 0, width - size[0], cv2.BORDER_REPLICATE)
    return np.exp(field)


def apply_tone(frame: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: the uint8 frame through the per-channel table of `fit_tone`."""
    return np.stack([table[frame[..., c], c] for c in range(3)], axis=2)


@dataclass(frozen=True, slots=True)
class Shift:
    """Where the frame's content lies against the reference, in working pixels (frame = reference + shift)."""

    dx: float = 0.0
    dy: float = 0.0
    response: float = 0.0

    @property
    def size(self) -> float:
        return float(np.hypot(self.dx, self.dy))


_windows: dict[tuple[int, int], np.ndarray] = {}


def estimate_shift(reference: np.ndarray, grey: np.ndarray) -> Shift:
    """Global displacement of (H, W) float32 `grey` against `reference`, by phase correlation."""
    key = reference.shape
    window = _windows.get(key)
    if window is None:
        window = _windows[key] = cv2.createHanningWindow((key[1], key[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(reference, grey, window)
    if response < _MIN_RESPONSE:
        return Shift(response=response)
    return Shift(dx, dy, response)


def unshift(image: np.ndarray, shift: Shift) -> np.ndarray:
    """The image moved back by `shift` (edges replicated), so it lies on the reference's pixels."""
    if shift.size < _MIN_UNDONE:
        return image
    matrix = np.array([[1, 0, -shift.dx], [0, 1, -shift.dy]], dtype=np.float32)
    size = (image.shape[1], image.shape[0])
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def chroma(small: np.ndarray) -> float:
    """How much the colour varies over a uint8 BGR view: the mean absolute deviation of blue-green and
    red-green from their medians. ~0 for an infrared (grey) picture, even one with a constant cast
    (a decoder's YUV conversion shifts the channels of grey by a level or three)."""
    channels = small.reshape(-1, 3)[:: max(1, small.shape[0] * small.shape[1] // 4096)].astype(np.float32)
    blue, red = channels[:, 0] - channels[:, 1], channels[:, 2] - channels[:, 1]
    return float(np.abs(blue - np.median(blue)).mean() + np.abs(red - np.median(red)).mean()) / 2.0


def camera_mode(small: np.ndarray, infrared_chroma: float, low_light_level: float) -> CameraMode:
    """day, low_light (colour but dark) or infrared (grey: the camera's night mode), of a uint8 BGR view."""
    if chroma(small) < infrared_chroma:
        return "infrared"
    return "low_light" if float(small.mean()) < low_light_level else "day"


def gradient(grey: np.ndarray) -> np.ndarray:
    """(H, W) float32 Sobel gradient magnitude."""
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return cv2.magnitude(gx, gy)


def structure_similarity(edges: np.ndarray, reference_edges: np.ndarray) -> float:
    """Correlation (-1..1) of two gradient-magnitude maps: does the frame still show the reference's edges?"""
    a = edges - edges.mean()
    b = reference_edges - reference_edges.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def new_structure(region: np.ndarray, frame_grey: np.ndarray, background_grey: np.ndarray) -> float:
    """Fine detail (rms, 0-255 levels) inside `region` (H, W) bool and its outline that the background's
    detail there, scaled to the frame's light, does not explain.

    The background's texture made lighter, darker or wetter is explained by the scale (a puddle, a
    shadow, lamplight: ~1 level of sensor noise); a box, a bag or a pile brings edges and texture of
    its own (several levels). Detail only lost (a drop on the dome, a patch of background absorbed
    before) is not counted.
    """
    ys, xs = np.nonzero(region)
    if not len(ys):
        return 0.0
    pad = 4
    y1, y2 = max(0, ys.min() - pad), min(region.shape[0], ys.max() + pad + 1)
    x1, x2 = max(0, xs.min() - pad), min(region.shape[1], xs.max() + pad + 1)
    frame, back = frame_grey[y1:y2, x1:x2], background_grey[y1:y2, x1:x2]
    inside = cv2.dilate(region[y1:y2, x1:x2].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # + outline
    detail_f = (frame - cv2.GaussianBlur(frame, (0, 0), 1.5))[inside]
    detail_b = (back - cv2.GaussianBlur(back, (0, 0), 1.5))[inside]
    scale = float(np.clip((detail_f * detail_b).sum() / max(float((detail_b * detail_b).sum()), 1e-6), 0.0, 4.0))
    added = np.maximum(np.abs(detail_f) - scale * np.abs(detail_b), 0.0)  # detail the ground lost is no object
    return float(np.sqrt((added**2).mean()))
