"""Rows of characters: where a plate's text is, found from the characters themselves, any panel colour.

A plate carries 7 or 8 characters of one height, side by side on one line. Dark and light ink are
thresholded against their neighbourhood; the connected blobs of a character's size that line up
(similar height, same line, gaps under a character height) are a row. The lines through the tops and
through the bottoms of its characters give the text's quadrilateral: its tilt and the perspective
(the near end's characters are taller) come from the characters, not from the panel's outline,
which a plate of the vehicle's own colour (a white plate on a white van) does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_CHARS = 4  # blobs that make a row (a province character may break into several, or none)
MAX_TEXT_WIDTH = 5.3  # a plate's text is 4.5 (7 characters) to 5 (8) character heights wide
MIN_HEIGHT = 6  # pixels: smaller blobs are noise (the reader's own limit is larger)


@dataclass(frozen=True, slots=True)
class TextRow:
    """A row of characters: `corners` (4, 2) of the text, top-left, top-right, bottom-right,
    bottom-left, `char_px` the median character height and `chars` how many blobs line up."""

    corners: np.ndarray
    char_px: float
    chars: int

    def grown(self, across: float, down: float) -> np.ndarray:
        """The corners moved out along the row by `across` and across it by `down` character heights:
        the text with the margins a recogniser needs (a plate's panel is ~0.3 heights over its text)."""
        tl, tr, br, bl = self.corners.astype(np.float64)
        along_top, along_bottom = _unit(tr - tl), _unit(br - bl)
        down_left, down_right = _unit(bl - tl), _unit(br - tr)
        dx, dy = across * self.char_px, down * self.char_px
        return np.array(
            [
                tl - along_top * dx - down_left * dy,
                tr + along_top * dx - down_right * dy,
                br + along_bottom * dx + down_right * dy,
                bl - along_bottom * dx + down_left * dy,
            ],
            np.float32,
        )


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(1e-9, float(np.linalg.norm(vector)))


@dataclass(frozen=True, slots=True)
class _Blob:
    x0: int
    y0: int
    x1: int
    y1: int
    area: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def centre_y(self) -> float:
        return (self.y0 + self.y1) / 2


def _components(gray: np.ndarray, dark: bool) -> list[_Blob]:
    """Connected blobs (a few pixels high or more) of ink darker (or lighter) than their neighbourhood."""
    mode = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, mode, 25, 10 if dark else -10)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return [_Blob(int(x), int(y), int(x + w), int(y + h), int(a)) for x, y, w, h, a in stats[1:count] if h >= 3]


def _character_sized(blob: _Blob, limit: float) -> bool:
    w, h = blob.x1 - blob.x0, blob.height
    return MIN_HEIGHT <= h <= limit and 0.08 * h <= w <= 1.2 * h and blob.area >= 0.12 * w * h


def _linked(a: _Blob, b: _Blob) -> bool:
    """Neighbours on one line of characters: similar height, same line, a small gap (a before b)."""
    high, low = max(a.height, b.height), min(a.height, b.height)
    gap = b.x0 - a.x1
    return high <= 1.35 * low and abs(a.centre_y - b.centre_y) <= 0.25 * high and -0.3 * high <= gap <= 1.0 * high


def _groups(blobs: list[_Blob]) -> list[list[_Blob]]:
    """Blobs chained left to right by `_linked`, as groups of at least MIN_CHARS."""
    blobs = sorted(blobs, key=lambda b: b.x0)
    parent = list(range(len(blobs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(blobs):
        for j in range(i + 1, len(blobs)):
            b = blobs[j]
            if b.x0 - a.x1 > a.height:
                break
            if _linked(a, b):
                parent[root(j)] = root(i)
    groups: dict[int, list[_Blob]] = {}
    for i, blob in enumerate(blobs):
        groups.setdefault(root(i), []).append(blob)
    return [g for g in groups.values() if len(g) >= MIN_CHARS]


def _row(group: list[_Blob], others: list[_Blob]) -> TextRow | None:
    """The row's text quadrilateral, widened by the strays on its line (a province character in pieces)."""
    xs = np.array([(b.x0 + b.x1) / 2 for b in group], np.float64)
    top = np.polyfit(xs, [b.y0 for b in group], 1)
    bottom = np.polyfit(xs, [b.y1 for b in group], 1)
    char_px = float(np.median([b.height for b in group]))
    if abs(top[0]) > 0.4 or abs(bottom[0]) > 0.4:
        return None
    left, right = min(b.x0 for b in group), max(b.x1 for b in group)
    # pieces on the line (a province character in strokes, a suffix in red) next to either end, one
    # after another, while the row stays as wide as a plate's text can be
    strays = []
    for blob in others:
        cx = (blob.x0 + blob.x1) / 2
        top_y, bottom_y = np.polyval(top, cx), np.polyval(bottom, cx)
        inside = blob.y0 >= top_y - 0.2 * char_px and blob.y1 <= bottom_y + 0.2 * char_px
        if inside and blob.height >= 0.3 * char_px and blob.x1 - blob.x0 <= 1.5 * char_px:
            strays.append(blob)
    grown = True
    while grown:
        grown = False
        for blob in strays:
            if right - left > MAX_TEXT_WIDTH * char_px:
                break
            if 0 < left - blob.x1 <= 0.6 * char_px or (blob.x0 < left <= blob.x1 and blob.x1 <= right):
                left, grown = blob.x0, True
            elif 0 < blob.x0 - right <= 0.6 * char_px or (blob.x0 <= right < blob.x1 and blob.x0 >= left):
                right, grown = blob.x1, True
    corners = np.array(
        [
            [left, np.polyval(top, left)],
            [right, np.polyval(top, right)],
            [right, np.polyval(bottom, right)],
            [left, np.polyval(bottom, left)],
        ],
        np.float32,
    )
    return TextRow(corners, char_px, len(group))


def text_rows(gray: np.ndarray) -> list[TextRow]:
    """Rows of characters in a grey image, dark ink and light ink, most characters first."""
    rows = []
    for dark in (True, False):
        pieces = _components(gray, dark)
        for group in _groups([b for b in pieces if _character_sized(b, gray.shape[0] / 2)]):
            row = _row(group, pieces)
            if row is not None:
                rows.append(row)
    rows.sort(key=lambda r: -r.chars)
    return rows
