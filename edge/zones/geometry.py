"""Zone geometry: normalised polygons, vectorised anchor tests and area coverage.

A zone is drawn by an operator in normalised 0..1 coordinates so it survives a
resolution change. For a given frame size it is rasterised once into a mask (cached);
then any number of anchor points are tested with one fancy-index lookup, the way
`supervision.PolygonZone` does, instead of a per-point Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from edge.config.polygon import Point, polygon_area, polygon_problem

__all__ = ["Point", "polygon_area", "polygon_problem"]  # with the functions below: zone geometry in one place


def to_pixels(points: Sequence[Point], width: int, height: int) -> np.ndarray:
    """(K, 2) int32 pixel polygon for a frame of the given size."""
    p = np.asarray(points, dtype=np.float64) * np.array([width - 1, height - 1])
    return np.round(p).astype(np.int32)


@lru_cache(maxsize=256)
def _mask(points: tuple[Point, ...], width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [to_pixels(points, width, height)], 1)
    mask.setflags(write=False)
    return mask


def zone_mask(points: Sequence[Point], width: int, height: int) -> np.ndarray:
    """(H, W) uint8 mask, 1 inside the zone; cached per polygon and frame size."""
    return _mask(tuple((float(x), float(y)) for x, y in points), width, height)


def points_in_zone(points: np.ndarray, polygon: Sequence[Point], width: int, height: int) -> np.ndarray:
    """(N,) bool: which pixel points (N, 2) fall inside the zone."""
    if len(points) == 0:
        return np.zeros(0, bool)
    mask = zone_mask(polygon, width, height)
    xy = np.round(points).astype(np.int64)
    x = np.clip(xy[:, 0], 0, width - 1)
    y = np.clip(xy[:, 1], 0, height - 1)
    inside_frame = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    return inside_frame & mask[y, x].astype(bool)


def zone_coverage(xyxy: np.ndarray, polygon: Sequence[Point], width: int, height: int) -> float:
    """Fraction 0..1 of the zone's area covered by the union of the boxes."""
    mask = zone_mask(polygon, width, height)
    total = int(mask.sum())
    if total == 0 or len(xyxy) == 0:
        return 0.0
    covered = np.zeros_like(mask)
    boxes = np.round(xyxy).astype(np.int64)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    for x1, y1, x2, y2 in boxes:  # a handful of boxes per zone: rasterising is the vectorised part
        covered[y1:y2, x1:x2] = 1
    return float((covered & mask).sum()) / total


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU matrix between (N, 4) and (M, 4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def greedy_match(score: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one assignment on an (N, M) score matrix (IoU or closeness), best pairs first.

    Returns (rows, cols) of the chosen pairs, each with score >= min_score. Greedy is what
    trackers at this scale use: a handful of boxes per frame, near-optimal without scipy.
    """
    if score.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cand_r, cand_c = np.nonzero(score >= min_score)
    order = np.argsort(-score[cand_r, cand_c], kind="stable")
    used_r = np.zeros(score.shape[0], bool)
    used_c = np.zeros(score.shape[1], bool)
    rows: list[int] = []
    cols: list[int] = []
    for r, c in zip(cand_r[order].tolist(), cand_c[order].tolist(), strict=True):
        if not (used_r[r] or used_c[c]):
            used_r[r] = used_c[c] = True
            rows.append(r)
            cols.append(c)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)


def unmatched(n: int, used: np.ndarray) -> np.ndarray:
    """(n,) bool: the rows of n that are not among `used` (e.g. detections no track took)."""
    mask = np.ones(n, bool)
    mask[used] = False
    return mask


def suppress_overlaps(xyxy: np.ndarray, score: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by class-agnostic NMS: one box per object when a detector says both car and truck."""
    order = np.argsort(-score, kind="stable")
    overlap = box_iou(xyxy[order], xyxy[order]) >= iou
    keep = np.ones(len(order), bool)
    for i in range(len(order)):  # rows of a small matrix; the comparisons are vectorised
        if keep[i]:
            keep[i + 1 :] &= ~overlap[i, i + 1 :]
    return np.sort(order[keep])
