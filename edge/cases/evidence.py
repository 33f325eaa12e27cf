"""Evidence pictures: the frame with the zone and boxes drawn, a crop, size-bounded JPEGs.

A dispatcher decides from these pictures whether to send staff, so each one shows what the rule
saw (zone outline, box, class and score) and fits the platform's size limit: quality is lowered
first, then the picture is downscaled, until the JPEG fits `max_kb`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.draw import ZONE_COLOUR, label

BOX_COLOUR = (0, 0, 255)  # red: the object of the case
OTHER_COLOUR = (255, 200, 0)  # blue-ish: other objects counted with it
CLEARED_COLOUR = (160, 160, 160)
_QUALITIES = (90, 80, 70, 60, 50, 40)


@dataclass(frozen=True, slots=True)
class Picture:
    """One encoded evidence picture and what the case record says about it."""

    name: str
    kind: str  # full | crop | first_seen | after | verification
    jpeg: bytes
    taken_at: str  # ISO-8601 UTC
    media_s: float
    width: int
    height: int

    def entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "sha256": hashlib.sha256(self.jpeg).hexdigest(),
            "bytes": len(self.jpeg),
            "taken_at": self.taken_at,
            "media_s": round(self.media_s, 3),
            "width": self.width,
            "height": self.height,
        }


def encode_bounded(image: np.ndarray, max_kb: int) -> tuple[bytes, int, int]:
    """JPEG bytes no larger than max_kb (lower quality, then downscale); returns (jpeg, width, height)."""
    limit = max_kb * 1024
    current = image
    while True:
        for quality in _QUALITIES:
            ok, buf = cv2.imencode(".jpg", current, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError(f"cannot encode a {current.shape} picture as JPEG")
            if buf.size <= limit:
                return buf.tobytes(), int(current.shape[1]), int(current.shape[0])
        if min(current.shape[:2]) <= 16:
            return buf.tobytes(), int(current.shape[1]), int(current.shape[0])
        current = cv2.resize(current, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)


def annotate(
    image: np.ndarray,
    zone_px: np.ndarray,
    boxes: np.ndarray,
    labels: list[str],
    others: np.ndarray | None = None,
    colour: tuple[int, int, int] = BOX_COLOUR,
    caption: str = "",
) -> np.ndarray:
    """A copy of the frame with the zone outline, the case's boxes (labelled) and other counted boxes."""
    out = image.copy()
    thickness = max(2, image.shape[0] // 300)
    cv2.polylines(out, [zone_px.reshape(-1, 1, 2)], True, ZONE_COLOUR, thickness)
    for x1, y1, x2, y2 in np.round(others if others is not None else np.zeros((0, 4))).astype(int):
        cv2.rectangle(out, (x1, y1), (x2, y2), OTHER_COLOUR, max(1, thickness - 1))
    for (x1, y1, x2, y2), text in zip(np.round(boxes).astype(int), labels, strict=True):
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        if text:
            label(out, text, x1, y1 - 2, colour, above=True)
    if caption:
        label(out, caption, 4, out.shape[0] - 4, (40, 40, 40), above=True)
    return out


def crop(image: np.ndarray, box: np.ndarray, margin: float = 0.3, min_px: int = 64) -> np.ndarray:
    """The object with a margin around it (so its surroundings show), clipped to the frame."""
    left, top, right, bottom = crop_bounds(image.shape[1], image.shape[0], box, margin, min_px)
    return image[top:bottom, left:right].copy()


def crop_bounds(
    w: int, h: int, box: np.ndarray | list[float], margin: float = 0.3, min_px: int = 64
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in frame pixels of `crop`'s picture of `box` in a w x h frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) * (1 + 2 * margin), min_px) / 2
    half_h = max((y2 - y1) * (1 + 2 * margin), min_px) / 2
    left, right = int(max(0, cx - half_w)), int(min(w, cx + half_w))
    top, bottom = int(max(0, cy - half_h)), int(min(h, cy + half_h))
    if right <= left or bottom <= top:
        raise ValueError(f"box {list(box)} lies outside the {w}x{h} frame")
    return left, top, right, bottom
