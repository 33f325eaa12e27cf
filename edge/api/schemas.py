"""Answers of the API that are not config sections or outbox records themselves."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edge.config import RuleConfig, ZoneConfig
from edge.config.events import EventType
from edge.runtime.worker import CameraStatus


def status_json(status: CameraStatus) -> dict[str, Any]:
    """A camera's status as plain data: stream health fields, then its inference queue and tamper state."""
    entry = asdict(status.health)
    entry["dropped_frames"] = status.dropped_frames
    entry["inference"] = None if status.inference is None else asdict(status.inference)
    entry["tamper"] = {"kind": status.tamper.kind, "detail": status.tamper.detail}
    return entry


class CameraHealthOut(BaseModel):
    """A running camera's stream health (more keys follow: inference, tamper)."""

    model_config = ConfigDict(extra="allow")

    state: str
    input_fps: float
    analysed_fps: float
    last_frame_age_s: float | None
    reconnects: int
    last_error: str | None
    dropped_frames: int


class CameraOut(BaseModel):
    id: str
    name: str
    enabled: bool
    zone_version: int = Field(description="zone-config version the camera runs; cases record it")
    zones: int = Field(description="number of zones")
    health: CameraHealthOut | None = Field(description="None for a camera that is not running")


class ZoneList(BaseModel):
    camera_id: str
    version: int
    zones: list[ZoneConfig]


class ZoneOut(BaseModel):
    camera_id: str
    version: int
    zone: ZoneConfig


class RuleList(BaseModel):
    camera_id: str
    zone_id: str
    version: int
    rules: list[RuleConfig]


class RuleOut(BaseModel):
    camera_id: str
    zone_id: str
    version: int
    rule: RuleConfig


class Applied(BaseModel):
    """A change saved as `version` and handed to the running camera."""

    camera_id: str
    version: int


class ZoneVersion(BaseModel):
    version: int
    saved_at: float
    note: str
    zones: list[ZoneConfig]


class ModelInfo(BaseModel):
    id: str
    loaded: bool = Field(description="rules may only use models the running worker has loaded")
    classes: list[str]


class Catalog(BaseModel):
    """What rules may refer to: the event table, the models and their classes, the rule kinds."""

    events: list[EventType]
    models: list[ModelInfo]
    rule_kinds: list[str]


class PictureLink(BaseModel):
    name: str
    kind: str
    url: str


class CaseOut(BaseModel):
    """One recent case message, its identity pulled out of the contract body."""

    message_id: str
    case_id: str
    seq: int
    kind: str
    camera_id: str
    zone_id: str | None
    zone_version: int | None
    rule_id: str | None
    event_code: str | None
    description: str
    pictures: list[PictureLink]
    body: dict[str, Any]


class Resent(BaseModel):
    resent: int


class Discarded(BaseModel):
    discarded: bool


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    cameras: dict[str, str] = Field(description="stream state per running camera")
    disk_state: str = Field(description="disk pressure where the outbox lives: ok, thin, no_pictures, paused")
    accepting_cases: bool = Field(description="false while the disk is nearly full: no new cases open")
