"""What a patrol camera keeps of its latest picture between visits: the JPEG, not the pixels.

A continuous camera replaces its latest frame many times a second; a patrol camera's last visit
picture stays for a whole revisit interval, for the live view and `frame.jpg`. As pixels that is
1.3 MB per camera at 576p and 6 MB at 1080p, held by hundreds of cameras; as a JPEG it is a tenth
of that, and it is decoded only when an operator looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.types import Frame

LIVE_QUALITY = 90  # a picture for the operator's screen (evidence pictures are taken from pixels)


@dataclass(frozen=True, slots=True)
class PackedFrame:
    """A `Frame` held as JPEG between patrol visits; `unpack()` gives it back as pixels."""

    camera_id: str
    jpeg: bytes
    media_time: float
    wall_time: float
    index: int

    @classmethod
    def pack(cls, frame: Frame) -> PackedFrame:
        ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, LIVE_QUALITY])
        if not ok:
            raise ValueError(f"camera {frame.camera_id!r}: its latest picture does not encode as JPEG")
        return cls(frame.camera_id, encoded.tobytes(), frame.media_time, frame.wall_time, frame.index)

    def unpack(self) -> Frame:
        image = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:  # cannot happen to a JPEG that OpenCV encoded
            raise ValueError(f"camera {self.camera_id!r}: its packed picture does not decode")
        return Frame(self.camera_id, image, self.media_time, self.wall_time, self.index)


def unpacked(frame: Frame | PackedFrame) -> Frame:
    """The frame as pixels, however it is held."""
    return frame if isinstance(frame, Frame) else frame.unpack()
