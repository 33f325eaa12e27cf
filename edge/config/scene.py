"""Scene model per camera: static new objects and camera tamper, without a class model."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class SceneConfig(Section):
    enabled: bool = Field(False, description="run the background model on analysed frames")
