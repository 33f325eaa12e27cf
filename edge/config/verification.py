"""Verification on request: how long the box looks at a case before it answers."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class VerificationConfig(Section):
    timeout_s: float = Field(
        default=10.0,
        gt=0.0,
        le=120.0,
        description="longest wait for the camera's analysed frames; past it the answer is camera_unavailable",
    )
    frames: int = Field(
        default=3,
        ge=1,
        le=50,
        description="analysed frames to look at: still_present on the first that shows the case's object, "
        "gone only when none of them does (one missed detection is no proof it left)",
    )
