"""What every model-format adapter provides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from edge.infer.candidates import Candidates
from edge.infer.preprocess import Resize


class Adapter(Protocol):
    """Decodes one format; `needs_nms` says whether class-wise NMS must follow decoding."""

    format: str
    needs_nms: bool
    resize: Resize  # how the format's trainers fit images, used when the config says 'auto'
    pixel_scale: float  # factor from 0..255 pixels to what the model was trained on
    n_classes: int | None  # class count the outputs imply; None when classes are ids in a tensor

    def decode(self, outputs: Sequence[np.ndarray], threshold: float) -> Candidates:
        """All boxes with score >= threshold, in input pixels, across the batch."""
        ...
