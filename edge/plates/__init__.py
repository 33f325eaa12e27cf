"""Licence plates: read the plate of a case's vehicle from its crop at the camera's full resolution.

`PlateReader(model).read(crop) -> PlateRead`: a mainland plate (text, confidence, box) or `unread`
with the reason (`Unread`). `parse_plate` checks a text against the mainland formats. The model is
models/PP-OCRv6_rec_small.onnx (`DEFAULT_MODEL`); docs/plates.md says how the limits were measured.
"""

from pathlib import Path

from edge.plates.locate import Candidate, locate
from edge.plates.reader import MIN_CHAR_PX, MIN_CONFIDENCE, PlateRead, PlateReader, Unread
from edge.plates.validate import PlateText, display, parse_plate

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "PP-OCRv6_rec_small.onnx"

__all__ = [
    "DEFAULT_MODEL",
    "MIN_CHAR_PX",
    "MIN_CONFIDENCE",
    "Candidate",
    "PlateRead",
    "PlateReader",
    "PlateText",
    "Unread",
    "display",
    "locate",
    "parse_plate",
]
