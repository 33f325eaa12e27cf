"""Drawing helpers shared by evidence pictures, the annotated video and the contact sheet (OpenCV, BGR)."""

from __future__ import annotations

import colorsys
from collections.abc import Mapping

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
ZONE_COLOUR = (0, 200, 255)  # BGR amber: zone outlines on every picture


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct colour per class id (golden-ratio hue steps), so a class keeps its colour."""
    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618034) % 1.0, 0.75, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def text_scale(image: np.ndarray) -> tuple[float, int]:
    """Font scale and thickness readable on this picture size (about 40 lines per frame height)."""
    scale = max(0.35, image.shape[0] / 1200)
    return scale, max(1, round(scale * 2))


def label(
    image: np.ndarray,
    text: str,
    x: int,
    y: int,
    colour: tuple[int, int, int],
    scale: float | None = None,
    above: bool = False,
) -> int:
    """White text on a filled box whose top-left is (x, y) (bottom-left if `above`), kept in the picture.

    Returns the box's height, so callers can stack lines. OpenCV's Hershey fonts are ASCII only:
    callers pass codes and ids, not the Chinese event names.
    """
    size, thickness = text_scale(image) if scale is None else (scale, max(1, round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, FONT, size, thickness)
    height = h + base + 4
    top = y - height if above else y
    x = int(min(max(x, 0), max(image.shape[1] - w - 4, 0)))
    top = int(min(max(top, 0), max(image.shape[0] - height, 0)))
    cv2.rectangle(image, (x, top), (x + w + 4, top + height), colour, -1)
    cv2.putText(image, text, (x + 2, top + height - base - 2), FONT, size, WHITE, thickness, cv2.LINE_AA)
    return height


def fit(image: np.ndarray, width: int, height: int, background: int = 32) -> np.ndarray:
    """The picture scaled to fit width x height without distortion, centred on a dark background."""
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (w, h), interpolation=interpolation)
    out = np.full((height, width, 3), background, np.uint8)
    top, left = (height - h) // 2, (width - w) // 2
    out[top : top + h, left : left + w] = resized
    return out


def draw_zones(
    image: np.ndarray,
    outlines: Mapping[str, np.ndarray],
    colour: tuple[int, int, int],
    tinted: Mapping[str, tuple[int, int, int]] | None = None,
    alpha: float = 0.25,
) -> None:
    """Outline each zone (pixel polygons by zone id) and label it with its id, in place.

    Zones in `tinted` are first lightly filled with their colour, so an operator or tester sees
    at a glance which zones are marked (all of them on the API's frame, those with an open case
    in the annotated video).
    """
    if tinted:
        fill = image.copy()
        for zone_id, fill_colour in tinted.items():
            cv2.fillPoly(fill, [outlines[zone_id]], fill_colour)
        cv2.addWeighted(fill, alpha, image, 1 - alpha, 0, dst=image)
    thickness = max(2, image.shape[0] // 300)
    for zone_id, points in outlines.items():
        cv2.polylines(image, [points.reshape(-1, 1, 2)], True, colour, thickness, cv2.LINE_AA)
        x, y = points.min(axis=0)
        label(image, zone_id, int(x), int(y), colour)
