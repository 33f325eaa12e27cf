"""Fit BGR frames of any size into a model's input tensor, and map boxes back.

Resizing is one `cv2.resize` per frame straight into a shared uint8 batch buffer; colour
order, layout, dtype and scaling are then single array expressions over the whole batch.
`Geometry` remembers, per image, how input pixels relate to frame pixels, so decoding can
map every box of the batch back with one vectorised expression.

A model whose input height and width are dynamic can run on a *window* of the input instead:
the frame is fitted to the model's full input size exactly as for a whole frame, and only the
window (whole multiples of `WINDOW_ALIGN` input pixels, the backbone's largest stride) goes into
the tensor. The pixels inside are those the whole input would have had, at the same scale and on
the same stride grid, so the model finds the same objects there for a fraction of the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.types import Region

Layout = Literal["nchw", "nhwc"]
Resize = Literal["plain", "letterbox", "letterbox_top_left"]  # letterbox: centred (YOLO); top-left: YOLOX
Colour = Literal["rgb", "bgr"]
Window = tuple[int, int, int, int]  # x1, y1, x2, y2 in input pixels of the full-size input
WINDOW_ALIGN = 32


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What one model's input tensor wants."""

    name: str
    width: int
    height: int
    layout: Layout
    dtype: np.dtype
    scale: float  # multiply 0..255 pixel values by this (1/255 for YOLO, 1 for CenterNet)
    rgb: bool
    resize: Resize
    pad_value: int = 114  # letterbox border grey, as YOLO trainers pad
    windows: bool = False  # the model's height and width are dynamic: it can run on a window of the input

    def fit(self, width: int, height: int) -> tuple[float, float, float, float]:
        """(x scale, y scale, left pad, top pad) from a frame of this size to input pixels."""
        if self.resize == "plain":
            return self.width / width, self.height / height, 0.0, 0.0
        s = min(self.width / width, self.height / height)
        nw, nh = max(1, round(width * s)), max(1, round(height * s))
        if self.resize == "letterbox_top_left":
            return nw / width, nh / height, 0.0, 0.0
        return nw / width, nh / height, float((self.width - nw) // 2), float((self.height - nh) // 2)

    def window(self, region: Region | None, frame_size: tuple[int, int]) -> Window | None:
        """The aligned input window covering `region` of a (width, height) frame; None for the whole
        input (or a fixed-size model). The region is mapped through the resize or letterbox."""
        if region is None or not self.windows:
            return None
        w, h = frame_size
        sx, sy, px, py = self.fit(w, h)
        x1, y1, x2, y2 = region
        a = WINDOW_ALIGN
        left = max(0, int(px + x1 * w * sx) // a * a)
        top = max(0, int(py + y1 * h * sy) // a * a)
        right = min(self.width, -(-int(np.ceil(px + x2 * w * sx)) // a) * a)
        bottom = min(self.height, -(-int(np.ceil(py + y2 * h * sy)) // a) * a)
        if right <= left or bottom <= top or (left, top, right, bottom) == (0, 0, self.width, self.height):
            return None
        return left, top, right, bottom


@dataclass(frozen=True, slots=True)
class Geometry:
    """Per image of a batch: input = frame * scale + pad; `size` (w, h) clips boxes to the frame."""

    scale: np.ndarray  # (N, 2) float32 x/y scale from frame to input pixels
    pad: np.ndarray  # (N, 2) float32 left/top padding in input pixels
    size: np.ndarray  # (N, 2) float32 frame width/height
    input_size: tuple[int, int]  # (width, height) of the tensor's images: the whole input or a window

    def to_frame(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Map (M, 4) input-pixel boxes of images `image` (M,) to clipped frame pixels."""
        scale = np.tile(self.scale[image], 2)
        pad = np.tile(self.pad[image], 2)
        out = (xyxy - pad) / scale
        return np.clip(out, 0, np.tile(self.size[image], 2)).astype(np.float32)


def check_image(image: np.ndarray, position: int) -> None:
    """Reject what is not a BGR uint8 frame with a message naming the image and the problem."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image {position} must be an (H, W, 3) uint8 BGR array, got shape {shape} dtype {dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image {position} is empty: shape {image.shape}")


def preprocess(
    images: Sequence[np.ndarray], spec: InputSpec, batch_size: int | None = None, window: Window | None = None
) -> tuple[np.ndarray, Geometry]:
    """Build the input tensor for `images`; `batch_size` pads a fixed-batch model with blank images.

    With a `window` (the same for every image of the batch) the tensor holds only that part of
    each full-size input."""
    n = len(images)
    rows = max(n, batch_size or n)
    fill = spec.pad_value if spec.resize != "plain" else 0
    full = np.full((rows, spec.height, spec.width, 3), fill, np.uint8)
    scale = np.empty((n, 2), np.float32)
    pad = np.zeros((n, 2), np.float32)
    size = np.empty((n, 2), np.float32)
    for i, image in enumerate(images):
        check_image(image, i)
        h, w = image.shape[:2]
        size[i] = (w, h)
        sx, sy, left, top = spec.fit(w, h)
        scale[i] = (sx, sy)
        pad[i] = (left, top)
        if spec.resize == "plain":
            cv2.resize(image, (spec.width, spec.height), dst=full[i], interpolation=cv2.INTER_LINEAR)
            continue
        nw, nh = round(w * sx), round(h * sy)
        x0, y0 = int(left), int(top)
        full[i, y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    buf = full
    input_size = (spec.width, spec.height)
    if window is not None:
        x1, y1, x2, y2 = window
        buf = full[:, y1:y2, x1:x2]
        pad -= np.array([x1, y1], np.float32)  # window pixels are full-input pixels shifted by its corner
        input_size = (x2 - x1, y2 - y1)
    view = buf[..., ::-1] if spec.rgb else buf
    if spec.layout == "nchw":
        view = view.transpose(0, 3, 1, 2)
    tensor = np.empty(view.shape, spec.dtype)
    if spec.scale == 1.0:
        np.copyto(tensor, view, casting="unsafe")
    else:
        np.multiply(view, spec.dtype.type(spec.scale), out=tensor, casting="unsafe")
    return tensor, Geometry(scale, pad, size, input_size)
