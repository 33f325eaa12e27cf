"""Where a plate may be in a vehicle crop: coloured plate panels and dense rows of vertical strokes.

Mainland plates are a saturated panel (blue, yellow, green) or a white / black one, carrying a row
of characters whose vertical strokes make dense, regular edges. Cheap cues propose boxes: the panel
colours, dark panels, and the stroke density (which also finds white plates); the recogniser and
the format check decide which box, if any, holds a plate. Nothing here reads text.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.plates.rows import text_rows

WORK_WIDTH = 640  # crops are searched at most this wide; boxes are returned in the crop's own pixels
ROW_MARGIN = (0.5, 0.3)  # a character row's box grown by these character heights along and across it
MIN_ROW_CHARS = 5  # characters that line up for a row to be proposed as a plate
MIN_ASPECT, MAX_ASPECT = 1.6, 7.0  # width / height of a one-row plate seen at an angle
# HSV ranges (OpenCV hue 0-180) of plate panels: blue standard, yellow large-vehicle, green new-energy
_PANELS = {
    "blue": ((100, 90, 50), (128, 255, 255)),
    "yellow": ((15, 90, 90), (34, 255, 255)),
    "green": ((35, 40, 90), (85, 255, 255)),
}
# A black panel (Hong Kong / Macau cross-border, embassy): dark, whatever its hue. Dark regions are
# common on a vehicle (tyres, glass, shadow): one counts only when strokes cross most of its columns,
# as a row of characters across a plate does, and it ranks with the stroke rows, not the colours.
_DARK = ((0, 0, 0), (180, 255, 70))
MIN_DARK_STROKES = 0.7  # black plates of bench_plates' set: 0.78-0.95; other dark shapes there: 80 % under
MIN_DARK_FILL = 0.6  # a panel fills its outline (black plates there: 90 % over 0.63); glass and shadow seldom do


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    """A quadrilateral (crop pixels) that may hold a plate, and how plate-like it looks.

    `corners`: (4, 2) top-left, top-right, bottom-right, bottom-left: the panel's own corners where
    its outline is a clean four-sided shape (a plate seen at an angle), else its rotated rectangle's.
    """

    corners: np.ndarray
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The axis-aligned bounding box (x0, y0, x1, y1)."""
        x0, y0 = np.floor(self.corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(self.corners.max(axis=0)).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def cut(self, crop: np.ndarray) -> np.ndarray:
        """The quadrilateral cut out of `crop` and made a level rectangle: what the recogniser reads."""
        tl, tr, br, bl = self.corners
        width = max(1, round((np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2))
        height = max(1, round((np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2))
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        warp = cv2.getPerspectiveTransform(self.corners.astype(np.float32), target)
        return cv2.warpPerspective(crop, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


Shape = tuple[np.ndarray, float]  # corners (4, 2), fill


def _ordered(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    total, diff = points.sum(axis=1), points[:, 1] - points[:, 0]
    return np.array(
        [points[total.argmin()], points[diff.argmin()], points[total.argmax()], points[diff.argmax()]], np.float32
    )


def _shapes(mask: np.ndarray, kernel: tuple[int, int], min_area: int) -> list[Shape]:
    """Plate-shaped quadrilaterals of a binary mask after closing gaps of `kernel`."""
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
    closed = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < min_area:
            continue
        centre, (w, h), angle = cv2.minAreaRect(contour)
        if w < h:  # OpenCV may name the long side height: turn a quarter so width is the long side
            w, h, angle = h, w, angle + 90.0
        angle = (angle + 90.0) % 180.0 - 90.0  # a rectangle turned half a turn is the same rectangle
        if h < 5 or not MIN_ASPECT <= w / h <= MAX_ASPECT or abs(angle) > 30:
            continue
        rectangle = _ordered(cv2.boxPoints((centre, (w, h), angle)))
        hull = cv2.convexHull(contour)
        quad = cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True).reshape(-1, 2).astype(np.float32)
        corners = _ordered(quad) if len(quad) == 4 else rectangle
        # the outline's own corners only when they make a sound quadrilateral much like the rectangle
        sound = cv2.isContourConvex(corners) and 0.6 <= abs(cv2.contourArea(corners)) / (w * h) <= 1.2
        out.append((corners if sound else rectangle, float(area) / float(w * h)))
    return out


def panel_colour(patch: np.ndarray) -> str:
    """The plate panel's colour: "blue", "yellow", "green" when one covers a third of the patch, else "plain"
    (white and black panels)."""
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
    share = {
        name: float(cv2.inRange(hsv, np.array(low, np.uint8), np.array(high, np.uint8)).mean()) / 255.0
        for name, (low, high) in _PANELS.items()
    }
    name = max(share, key=share.__getitem__)
    return name if share[name] >= 0.33 else "plain"


def _stroke_density(gray: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Share of the box's columns crossed by a strong vertical edge: high on a row of characters."""
    x0, y0, x1, y1 = box
    patch = gray[max(0, y0) : y1, max(0, x0) : x1]
    if patch.size == 0:
        return 0.0
    edges = np.abs(cv2.Sobel(patch, cv2.CV_16S, 1, 0, ksize=3))
    strong = edges > max(40.0, float(np.percentile(edges, 90)) * 0.5)
    return float(strong.any(axis=0).mean())


def locate(crop: np.ndarray, max_candidates: int = 5) -> list[Candidate]:
    """Up to `max_candidates` plate boxes in a BGR vehicle crop, most plate-like first."""
    height, width = crop.shape[:2]
    scale = min(1.0, WORK_WIDTH / max(1, width))
    small = cv2.resize(crop, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    min_area = 40
    # (shape, base score, the stroke density it needs): dark panels must be crossed by characters
    found: list[tuple[Shape, float, float]] = []
    for low, high in _PANELS.values():
        mask = cv2.inRange(hsv, np.array(low, np.uint8), np.array(high, np.uint8))
        found += [(shape, 0.5 + 0.5 * shape[1], 0.0) for shape in _shapes(mask, (5, 3), min_area)]
    dark = cv2.inRange(hsv, np.array(_DARK[0], np.uint8), np.array(_DARK[1], np.uint8))
    found += [
        (shape, 0.3 + 0.5 * shape[1], MIN_DARK_STROKES)
        for shape in _shapes(dark, (5, 3), min_area)
        if shape[1] >= MIN_DARK_FILL
    ]
    # rows of vertical strokes (any panel colour): close the gaps between characters of a small
    # plate and of a large one
    edges = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    _, strokes = cv2.threshold(edges, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    for kernel in ((7, 3), (15, 5)):
        found += [(shape, 0.3 + 0.5 * shape[1], 0.0) for shape in _shapes(strokes, kernel, min_area)]
    scored = []
    for (corners, _), shape_score, least_density in found:
        density = _stroke_density(gray, Candidate(corners, 0.0).box)
        if density >= least_density:
            scored.append(Candidate(corners / scale, shape_score * (0.5 + density)))
    scored.sort(key=lambda c: -c.score)
    kept = _distinct(scored, max_candidates)
    # a row of characters where no panel or stroke box is: a plate the colour of its vehicle (a white
    # plate on a white van), found by its characters; it goes first, as the most plate-like
    rows = [
        Candidate(row.grown(*ROW_MARGIN) / scale, 2.0 + 0.1 * min(row.chars, 8))
        for row in text_rows(gray)
        if row.chars >= MIN_ROW_CHARS
    ]
    rows = [r for r in _distinct(rows, max_candidates) if all(_iou(r.box, k.box) < 0.5 for k in kept)]
    return (rows + kept)[:max_candidates]


def _distinct(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """Best-first candidates without the ones that mostly overlap a better one."""
    kept: list[Candidate] = []
    for cand in candidates:
        if all(_iou(cand.box, k.box) < 0.5 for k in kept):
            kept.append(cand)
        if len(kept) == limit:
            break
    return kept


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
