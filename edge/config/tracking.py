"""The tracker stage: how detections of consecutive analysed frames are linked into tracks."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class TrackerConfig(Section):
    iou_threshold: float = Field(
        default=0.2, gt=0.0, le=1.0, description="least overlap of a track's predicted box and a detection to link them"
    )
    max_distance: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="second pass: link leftover pairs whose centres are within this many box sizes "
        "(at 1-2 analysed fps a walker moves more than a box width between frames); 0 turns it off",
    )
    max_gap_s: float = Field(
        default=3.0,
        ge=0.0,
        le=600.0,
        description="media seconds a track survives without a detection (occlusions, misses)",
    )
