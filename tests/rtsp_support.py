"""Helpers for the ingest tests: small generated clips (and, for live tests, the RTSP server process)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_clip(
    path: Path,
    images: Sequence[np.ndarray],
    pts: Sequence[int] | None = None,
    rate: int = 10,
    codec: str = "mpeg4",
    gop: int = 10,
) -> Path:
    """Encode BGR images into a real clip; `pts` in 1/rate units lets a test make gaps in time."""
    pts = list(range(len(images))) if pts is None else list(pts)
    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, rate)
        stream.codec_context.gop_size = gop
        for image, t in zip(images, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            frame.pts, frame.time_base = t, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def solid(bgr: tuple[int, int, int], width: int = 64, height: int = 48) -> np.ndarray:
    return np.full((height, width, 3), bgr, np.uint8)
