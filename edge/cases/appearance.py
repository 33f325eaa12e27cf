"""A cheap appearance signature of an object's crop: is this sighting the same object as before?

The crop is shrunk to a GRID of cells (OpenCV's area interpolation averages each cell) and described
twice, with the frame's light beside them:
- colour: each cell in CIE Lab with the crop's mean lightness removed, a coarse colour layout that
  two different passers-by rarely share and a parked car keeps from frame to frame in the same light;
- light-invariant: each cell's log luminance standardised over the crop (a gain, an exposure step or
  a gamma/tone curve, a power of the level, scale and shift the log and so cancel: what is left is the
  object's shape and shading) and its log blue/green and red/green ratios minus the whole frame's
  median ones (a white-balance drift, a gain per channel, shifts every ratio alike and cancels). In a
  grey picture (the camera's infrared mode) the ratios are unknown (NaN): shape and shading only;
- the frame's light: its median log luminance and colour ratios, whether it is grey, and the squares
  of the first three (a place's look is a running mean of its sightings: mean square less squared
  mean is how much the light changed over the sightings it remembers).
Two sightings taken in the same, steady light are compared by colour, the finer test; once the light
differs or was changing (dusk, auto-exposure, white balance, the switch to infrared and back: a mean
of colour layouts seen in changing light is none of them) by the light-invariant cells,
so a parked car keeps its dwell while a different car at the same spot still differs in layout or
colour. About 200 numbers per sighting and a few microseconds per box; no model, no training.

Similarity is exp(-d / SCALE) of the mean distance d between corresponding cells: 1 for the same
picture; for one object seen again about 0.8-0.95 in the same light, 0.7-0.95 through dusk and
infrared; 0.2-0.6 for two different people in the same spot (measured on the bundled clip; see
docs/rules.md).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from edge.config.scene import SceneConfig
from edge.scene.photometry import chroma
from edge.scene.views import downscale

GRID = (4, 8)  # cells across, cells down (crops are resized to this, whatever their aspect)
CELLS = GRID[0] * GRID[1]
LIGHT = slice(6 * CELLS, 6 * CELLS + 7)  # log luminance, log b/g, log r/g, grey (1) or not, squares of the first 3
SIZE = 6 * CELLS + 7  # colour cells (Lab), light-invariant cells (luminance, b/g, r/g), the light
SCALE = 20.0  # a mean cell distance of 20 gives similarity 1/e (Lab units)
LUMINANCE_WEIGHT = 15.0  # invariant cells: units per standard deviation of the crop's log luminance
COLOUR_WEIGHT = 30.0  # invariant cells: units per unit of log colour ratio (e-fold)
DARK = 8.0  # added to levels before the log, so the grain of dark pixels does not make contrast
FLATTEST = 0.05  # smallest log-luminance spread a crop is scaled by (a flat crop's noise stays small)
GREY_CHROMA = SceneConfig.model_fields["infrared_chroma"].default  # the scene model's infrared test
SAME_LIGHT = 0.1  # frames whose median luminance (log) and colour ratios differ less are in the same light
MID_GREY = float(np.log(128.0 + DARK))
STEADY = 0.03  # ... if neither changed more than this (standard deviation) over the sightings it remembers


def _logs(image: np.ndarray) -> np.ndarray:
    """(..., 3) log of (luminance, blue/green, red/green) of a BGR float32 image."""
    logs = np.log(image + DARK)
    luminance = np.log(image.mean(axis=-1) + DARK)
    return np.stack([luminance, logs[..., 0] - logs[..., 1], logs[..., 2] - logs[..., 1]], axis=-1)


def frame_light(image: np.ndarray) -> np.ndarray:
    """(7,) the frame's median log luminance and colour ratios (NaN in a grey picture), greyness, and
    the squares of the first three."""
    step = max(1, image.shape[1] // 192)  # every few pixels, averaged over 3x3 of them: cheap and steady
    small = downscale(np.ascontiguousarray(image[step // 2 :: step, step // 2 :: step]), 64)
    light = np.median(_logs(small.astype(np.float32)).reshape(-1, 3), axis=0)
    light[0] -= MID_GREY  # small numbers: their squares keep their precision in a saved state's float16
    if chroma(small) < GREY_CHROMA:
        light[1:] = np.nan
    return np.array([*light, float(np.isnan(light[1])), *light**2], np.float32)


def signatures(image: np.ndarray, boxes: np.ndarray, light: np.ndarray | None = None) -> np.ndarray:
    """(M, SIZE) float32 signatures of the boxes' crops of a BGR frame; NaN rows for empty crops.

    `light`: the frame's `frame_light`, when the caller has it already (`FrameLooks`)."""
    height, width = image.shape[:2]
    out = np.full((len(boxes), SIZE), np.nan, np.float32)
    corners = np.round(np.asarray(boxes, np.float64)).astype(np.int64).reshape(-1, 4)
    corners[:, [0, 2]] = corners[:, [0, 2]].clip(0, width)
    corners[:, [1, 3]] = corners[:, [1, 3]].clip(0, height)
    kept = [i for i, (x1, y1, x2, y2) in enumerate(corners.tolist()) if x2 - x1 >= 2 and y2 - y1 >= 2]
    if not kept:
        return out
    cells = np.stack(  # (K, rows, columns, 3): one small crop per box
        [cv2.resize(image[y1:y2, x1:x2], GRID, interpolation=cv2.INTER_AREA) for x1, y1, x2, y2 in corners[kept]]
    )
    strip = cells.reshape(-1, GRID[0], 3).astype(np.float32) / 255.0  # the crops stacked into one image
    lab = cv2.cvtColor(strip, cv2.COLOR_BGR2Lab).reshape(len(kept), CELLS, 3)
    lab[..., 0] -= lab[..., 0].mean(axis=1, keepdims=True)
    logs = _logs(cells.astype(np.float32)).reshape(len(kept), CELLS, 3)
    luminance = logs[..., 0] - logs[..., 0].mean(axis=1, keepdims=True)
    luminance /= np.maximum(luminance.std(axis=1, keepdims=True), FLATTEST)
    light = frame_light(image) if light is None else light
    colour = logs[..., 1:] - light[1:3]  # NaN in a grey picture
    invariant = np.concatenate([LUMINANCE_WEIGHT * luminance[..., None], COLOUR_WEIGHT * colour], axis=2)
    light_rows = np.broadcast_to(light, (len(kept), len(light)))
    out[kept] = np.concatenate([lab.reshape(len(kept), -1), invariant.reshape(len(kept), -1), light_rows], axis=1)
    return out


class FrameLooks:
    """Signatures of one frame's boxes, for all the rules that look at it: the frame's light is
    measured once, when the first look is asked for."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self._known: dict[bytes, np.ndarray] = {}  # by box: rules on overlapping zones see the same objects

    @functools.cached_property
    def light(self) -> np.ndarray:
        return frame_light(self.image)

    def of(self, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        keys = [box.tobytes() for box in boxes]
        missing = [i for i, key in enumerate(keys) if key not in self._known]
        if missing:
            found = signatures(self.image, boxes[missing], self.light)
            self._known.update(zip([keys[i] for i in missing], found, strict=True))
        return np.stack([self._known[key] for key in keys]) if keys else np.zeros((0, SIZE), np.float32)


def _cell_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean distance of corresponding cells of (..., CELLS, 3) arrays that broadcast; a NaN colour
    (either side grey) is left out, a NaN first component (unknown) makes the distance NaN."""
    squared = np.nan_to_num((a[..., 1:] - b[..., 1:]) ** 2).sum(axis=-1)
    squared += (a[..., 0] - b[..., 0]) ** 2
    return np.sqrt(squared).mean(axis=-1)


def _cells(signature: np.ndarray, start: int) -> np.ndarray:
    """(..., CELLS, 3) view of the cells of a (..., SIZE) signature from column `start`."""
    return signature[..., start : start + 3 * CELLS].reshape(*signature.shape[:-1], CELLS, 3)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity in (0, 1] of signatures, (..., SIZE) arrays that broadcast: row i of `a` with row i of
    `b` (the pairs a caller needs judged), or `a[:, None]` with `b[None]` for every pair. 1 where either
    is unknown (NaN); by colour when both were seen in the same light, else by the light-invariant cells."""
    colour = _cell_distance(_cells(a, 0), _cells(b, 0))
    invariant = _cell_distance(_cells(a, 3 * CELLS), _cells(b, 3 * CELLS))
    light_a, light_b = a[..., LIGHT], b[..., LIGHT]
    change = np.nan_to_num(np.abs(light_a[..., :3] - light_b[..., :3])).max(axis=-1)
    unsteady = np.nan_to_num(light_a[..., 4:] - light_a[..., :3] ** 2 + light_b[..., 4:] - light_b[..., :3] ** 2)
    same_light = (change <= SAME_LIGHT) & (np.abs(light_a[..., 3] - light_b[..., 3]) < 0.5)
    same_light &= unsteady.max(axis=-1) <= STEADY**2
    distance = np.where(same_light, colour, invariant)
    return np.where(np.isnan(distance), 1.0, np.exp(-distance / SCALE)).astype(np.float32)


def stored(signature: np.ndarray) -> np.ndarray:
    """A signature read back from storage, or unknown (NaN) if an older version wrote another size."""
    flat = np.asarray(signature, np.float32).ravel()
    return flat if flat.size == SIZE else np.full(SIZE, np.nan, np.float32)
