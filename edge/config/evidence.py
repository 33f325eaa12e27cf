"""Evidence beyond pictures: a short video clip per case, and bystander privacy (docs/evidence.md)."""

from __future__ import annotations

from pydantic import Field, model_validator

from edge.config.base import Section


class ClipConfig(Section):
    """A clip around each confirmation, remuxed from the camera's recent compressed packets (no re-encode)."""

    before_s: float = Field(
        default=8.0, ge=0, le=60, description="seconds of video before the confirmation (dwell's end)"
    )
    after_s: float = Field(default=4.0, ge=0, le=30, description="seconds after it; the 'new' message waits this long")
    max_kb: int = Field(
        default=2048,
        ge=64,
        le=65536,
        description="largest clip: a longer one starts at a later key frame, then ends sooner",
    )
    buffer_s: float = Field(
        default=40.0,
        gt=0,
        le=600,
        description="packets kept per camera, in seconds (>= before_s + after_s + one key interval)",
    )
    buffer_mb: float = Field(
        default=16.0, gt=0, le=1024, description="packets kept per camera, in MB (the hard memory bound)"
    )

    @model_validator(mode="after")
    def _fits(self) -> ClipConfig:
        if self.buffer_s < self.before_s + self.after_s:
            raise ValueError(
                f"buffer_s ({self.buffer_s:g}) must hold before_s + after_s ({self.before_s + self.after_s:g}) "
                "plus one key-frame interval"
            )
        return self


class PrivacyConfig(Section):
    """Blur people who are not the subject of a case in every evidence picture that leaves the box."""

    enabled: bool = Field(
        default=False, description="blur the heads (and detected faces) of bystanders in evidence pictures"
    )
    head_fraction: float = Field(default=0.3, gt=0, le=1, description="top part of a person's box taken as the head")
    face_cascade: bool = Field(default=True, description="also blur faces OpenCV's frontal-face cascade finds")
    plates: bool = Field(default=True, description="also blur the plates of vehicles that are not the subject")


class EvidenceConfig(Section):
    clip: ClipConfig = Field(default_factory=ClipConfig, description="clip length and bounds (on per camera)")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
