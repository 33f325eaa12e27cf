"""Answers of the API that are not config sections or outbox records themselves."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edge.config import RuleConfig, ZoneConfig
from edge.config.events import EventType
from edge.runtime.worker import CameraStatus


def status_json(status: CameraStatus) -> dict[str, Any]:
    """A camera's status as plain data: stream health fields, then its inference queue, change gate and tamper."""
    entry = asdict(status.health)
    entry["dropped_frames"] = status.dropped_frames
    entry["inference"] = None if status.inference is None else asdict(status.inference)
    entry["change_gate"] = asdict(status.gate)
    entry["tamper"] = {"kind": status.tamper.kind, "detail": status.tamper.detail}
    entry["camera_mode"] = {"mode": status.mode, "changes": status.mode_changes}
    entry["patrol"] = None if status.patrol is None else asdict(status.patrol)
    return entry


class CameraHealthOut(BaseModel):
    """A running camera's stream health (more keys follow: inference, change_gate, tamper)."""

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


class StagesOut(BaseModel):
    """The supervised stage threads (docs/api.md, Supervision)."""

    failed: list[str] = Field(description="stages left down past their restart budget: the box is not ready")
    details: list[str] = Field(description="one line per failed stage: its restarts and the last reason")
    restarts: dict[str, int] = Field(description="restarts since start, per stage restarted at least once")
    finished: list[str] = Field(description="stages that ended on purpose (a file camera whose file is over)")


class Readiness(BaseModel):
    ready: bool
    cameras: dict[str, str] = Field(description="stream state per running camera")
    disk_state: str = Field(description="disk pressure where the outbox lives: ok, thin, no_pictures, paused, full")
    accepting_cases: bool = Field(description="false while the disk is nearly full: no new cases open")
    patrol: str | None = Field(
        default=None,
        description="the box's patrol: achieved revisit against the target, overdue visits, overloaded or not",
    )
    stages: StagesOut


class DetectionOut(BaseModel):
    """One detector box on the analysed frame, as the rules got it (pixels)."""

    model: str
    class_name: str
    score: float
    track_id: int | None = Field(description="the pipeline's tracker id; null when not tracked")
    box: list[float] = Field(description="[x1, y1, x2, y2] in pixels of the frame")


class TamperOut(BaseModel):
    kind: str = Field(description="none, moved, covered or blurred")
    since: float | None = Field(description="media time the condition began")
    detail: str


class StaticObjectOut(BaseModel):
    object_id: int
    class_name: str | None = Field(description="the detector class that covered it most, null when class-agnostic")
    box: list[float]
    first_seen_media_s: float
    area_fraction: float
    changed: float = Field(description="fraction of its pixels still differing from the background")


class SceneOut(BaseModel):
    learning: bool = Field(description="the first background is still being learned: nothing is reported yet")
    tamper: TamperOut
    static_objects: list[StaticObjectOut]


class PlaceOut(BaseModel):
    """A place a rule is timing: a candidate until it belongs to a case."""

    key: str
    phase: str = Field(description="candidate, or attached (it belongs to the open case case_id)")
    label: str
    box: list[float]
    dwell_s: float = Field(description="seen for this long so far")
    required_s: float = Field(description="the rule's min_duration_s: a candidate becomes a case at this dwell")
    absent_s: float = Field(description="not seen for this long (0 when seen in the latest frame)")
    case_id: str | None


class OpenCaseOut(BaseModel):
    case_id: str
    phase: str
    seq: int
    label: str
    score: float
    box: list[float]
    first_seen_media_s: float
    confirmed_media_s: float
    repeat_count: int


class SuppressedOut(BaseModel):
    """An object the platform rejected (wrong_object): it starts no candidate of its rule at this place."""

    id: str
    zone_id: str
    rule_id: str
    label: str
    box: list[float]
    expires_at: str = Field(description="ISO-8601 UTC")


class RuleLive(BaseModel):
    rule_id: str
    kind: str
    event_code: str
    active: bool = Field(description="enabled and inside its schedule now")
    min_duration_s: float
    places: list[PlaceOut]
    open_cases: list[OpenCaseOut]


class ZoneLive(BaseModel):
    zone_id: str
    name: str
    rules: list[RuleLive]


class FrameInfo(BaseModel):
    index: int
    media_time: float
    age_s: float = Field(description="seconds since the frame was read from the camera")
    width: int
    height: int


class LiveOut(BaseModel):
    """What a camera's rules saw on its latest analysed frame, and their timers now."""

    camera_id: str
    zone_version: int
    frame: FrameInfo
    paused: bool = Field(description="no rule saw the frame: the view was tampered or the disk nearly full")
    detections: list[DetectionOut]
    scene: SceneOut | None = Field(description="null when the camera runs no scene model")
    zones: list[ZoneLive]
    suppressed: list[SuppressedOut] = Field(description="rejected objects, drawn where they lie")
