"""The latest frame of a camera as a JPEG, optionally with its zones drawn, as an operator checks them."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.config import ZoneConfig
from edge.draw import ZONE_COLOUR, draw_zones
from edge.zones.geometry import to_pixels

JPEG_QUALITY = 85


def frame_jpeg(image: np.ndarray, zones: Sequence[ZoneConfig] = ()) -> bytes:
    """Encode a BGR frame; each zone is outlined, lightly filled and labelled with its id."""
    canvas = image.copy()
    if zones:
        height, width = image.shape[:2]
        outlines = {z.id: to_pixels(z.points, width, height) for z in zones}
        draw_zones(canvas, outlines, ZONE_COLOUR, dict.fromkeys(outlines, ZONE_COLOUR), alpha=0.2)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"cannot encode a frame of shape {image.shape} as JPEG")
    return buf.tobytes()
