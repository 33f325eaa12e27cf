"""The latest frame of a camera as a JPEG, optionally with its zones drawn, as an operator checks them."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.config import ZoneConfig
from edge.zones.geometry import to_pixels

ZONE_COLOUR = (0, 200, 255)  # BGR amber, as in evidence pictures
JPEG_QUALITY = 85


def frame_jpeg(image: np.ndarray, zones: Sequence[ZoneConfig] = ()) -> bytes:
    """Encode a BGR frame; each zone is outlined, lightly filled and labelled with its id."""
    canvas = image.copy()
    if zones:
        height, width = image.shape[:2]
        fill = canvas.copy()
        outlines = [to_pixels(z.points, width, height) for z in zones]
        cv2.fillPoly(fill, outlines, ZONE_COLOUR)
        canvas = cv2.addWeighted(fill, 0.2, canvas, 0.8, 0)
        cv2.polylines(canvas, outlines, True, ZONE_COLOUR, 2, cv2.LINE_AA)
        for zone, pts in zip(zones, outlines, strict=True):
            x, y = int(pts[:, 0].min()), int(pts[:, 1].min())
            org = (x + 4, max(y + 16, 16))
            cv2.putText(canvas, zone.id, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, zone.id, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_COLOUR, 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"cannot encode a frame of shape {image.shape} as JPEG")
    return buf.tobytes()
