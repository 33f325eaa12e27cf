"""What every model-format adapter provides, and what it is recognised from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.infer.candidates import Candidates
from edge.infer.preprocess import Colour, Resize


@dataclass(frozen=True, slots=True)
class OutputSample:
    """One output of a dry run: its name, real shape (dynamic dimensions resolved) and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


class Adapter(Protocol):
    """Decodes one format; `needs_nms` says whether class-wise NMS must follow decoding."""

    format: str
    needs_nms: bool
    resize: Resize  # how the format's trainers fit images, used when the config says 'auto'
    colour: Colour  # channel order the format's trainers fed, used when the config says 'auto'
    pixel_scale: float  # factor from 0..255 pixels to what the model was trained on
    n_classes: int | None  # class count the outputs imply; None when classes are ids in a tensor

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        """All boxes with score >= threshold, in input pixels, across the batch.

        `input_size` is the tensor's (width, height): a zone window's, or the whole input's."""
        ...


def xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    """(M, 4) centre/size boxes to corners."""
    half = box[:, 2:4] / 2
    return np.concatenate([box[:, :2] - half, box[:, :2] + half], axis=1)
