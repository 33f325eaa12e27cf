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
    """Decodes one format; `needs_nms` says whether class-wise NMS must follow decoding.

    The facts about the format are read-only here, so an adapter may state them as plain class or
    instance attributes of a narrower type (an `int` class count, say).
    """

    @property
    def format(self) -> str: ...
    @property
    def needs_nms(self) -> bool: ...
    @property
    def resize(self) -> Resize:
        """How the format's trainers fit images, used when the config says 'auto'."""
        ...

    @property
    def colour(self) -> Colour:
        """Channel order the format's trainers fed, used when the config says 'auto'."""
        ...

    @property
    def pixel_scale(self) -> float:
        """Factor from 0..255 pixels to what the model was trained on."""
        ...

    @property
    def n_classes(self) -> int | None:
        """Class count the outputs imply; None when classes are ids in a tensor."""
        ...

    def decode(self, outputs: Sequence[np.ndarray], threshold: float, input_size: tuple[int, int]) -> Candidates:
        """All boxes with score >= threshold, in input pixels, across the batch.

        `input_size` is the tensor's (width, height): a zone window's, or the whole input's."""
        ...


def xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    """(M, 4) centre/size boxes to corners."""
    half = box[:, 2:4] / 2
    return np.concatenate([box[:, :2] - half, box[:, :2] + half], axis=1)
