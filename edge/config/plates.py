"""Plate reading: which rules read the plates of their vehicles, and the reader's limits (docs/plates.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.base import Section

# detector class names of vehicles that carry a mainland plate (COCO names and common custom ones)
VEHICLE_CLASSES = frozenset({"car", "truck", "bus", "van", "motorcycle", "motorbike", "vehicle", "tricycle"})
PLATE_RULE_KINDS = ("dwell",)  # a plate belongs to one object: rules whose case is one vehicle


class PlateReaderConfig(Section):
    model: Path | None = Field(
        default=None, description="the text recogniser ONNX file; none = the bundled models/PP-OCRv6_rec_small.onnx"
    )
    min_confidence: float = Field(
        default=0.95, ge=0.5, le=1.0, description="the weakest character's probability for a plate to be reported"
    )
    min_char_px: float = Field(
        default=14.0, ge=8.0, le=100.0, description="smaller characters (in the camera's pixels) are unread: too_small"
    )
    wait_s: float = Field(
        default=5.0, gt=0.0, le=60.0, description="a live case message waits this long at most for its plate"
    )
    queue: int = Field(default=8, ge=1, le=256, description="vehicle crops waiting for the reader; more are not read")


def plate_rule_problem(kind: str, classes: list[str]) -> str | None:
    """Why a rule with `plates: true` cannot read plates, or None when it can."""
    if kind not in PLATE_RULE_KINDS:
        return f"plates: true needs a dwell rule (one vehicle per case), not {kind!r}"
    others = sorted(set(classes) - VEHICLE_CLASSES)
    if not classes or others:
        vehicles = ", ".join(sorted(VEHICLE_CLASSES))
        return f"plates: true is for vehicle classes only ({vehicles}); this rule also counts {others or 'no class'}"
    return None
