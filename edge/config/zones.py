"""Zones (normalised polygons) and the rules that apply inside them.

docs/rules.md explains each rule kind and parameter with examples.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from edge.config.base import Section
from edge.config.events import EventCode, Severity
from edge.config.polygon import polygon_problem


class RuleKind(StrEnum):
    """What a rule counts; a str, so config files and messages carry the plain name."""

    DWELL = "dwell"
    COUNT = "count"
    OCCUPANCY = "occupancy"
    COMBINATION = "combination"
    STATIC_OBJECT = "static_object"  # the scene model's new static objects, not a detector's classes


CasePer = Literal["object", "zone"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
EVERY_DAY: tuple[Weekday, ...] = get_args(Weekday)
_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")
_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class TimeWindow(Section):
    days: list[Weekday] = Field(
        default_factory=lambda: list(EVERY_DAY),
        description="weekdays on which the window starts (a window across midnight ends the next day)",
    )
    start: str = Field(default="00:00", description="HH:MM local time of the camera, 00:00-23:59")
    end: str = Field(default="24:00", description="HH:MM, up to 24:00; an end before the start runs across midnight")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value) or (value.startswith("24") and value != "24:00"):
            raise ValueError(f"time must be HH:MM between 00:00 and 24:00, got {value!r}")
        return value

    @field_validator("start")
    @classmethod
    def _start_in_day(cls, value: str) -> str:
        if value == "24:00":
            raise ValueError("a window cannot start at 24:00; start it at 00:00 of the next day")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a time window needs at least one weekday")
        if len(set(value)) != len(value):
            raise ValueError(f"weekdays repeated in {value}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty; use 00:00-24:00 for all day")
        return self


class ScheduleConfig(Section):
    mode: Literal["active", "inactive"] = Field(
        default="active",
        description="'active': the rule applies only inside the windows (e.g. no parking 07:00-19:00); "
        "'inactive': only outside them (e.g. vending allowed 18:00-23:00)",
    )
    windows: list[TimeWindow] = Field(min_length=1, max_length=32, description="weekday + time windows")


class RuleConfig(Section):
    id: str = Field(pattern=_ID, description="stable id within the zone; part of case ids")
    kind: RuleKind = Field(
        default=RuleKind.DWELL,
        description="dwell: an object stays; count: >= min_count objects; occupancy: >= min_coverage of the "
        "zone covered; combination: groups of classes stay together; static_object: the scene model's "
        "new static objects",
    )
    event_code: EventCode = Field(description="4-digit code from the event table, e.g. '0505'")
    event_name: str = Field(default="", max_length=200, description="overrides the event table's name in cases")
    severity: Severity | None = Field(
        default=None,
        description="urgent / normal / routine, carried in every message of the rule's cases (e.g. urgent for a "
        "parked car blocking a fire lane); none = the event table's severity for event_code",
    )
    model: str = Field(default="default", description="id of the model whose classes this rule counts")
    classes: list[str] = Field(
        default_factory=list,
        description="detector classes that count; empty = the event's default classes "
        "(static_object: 'object' = one no detector box explains; empty = 'object' + the event's defaults)",
    )
    groups: list[list[str]] = Field(
        default_factory=list,
        max_length=8,
        description="combination rules: each group must be present; the first group anchors the position "
        "(e.g. [[person], [umbrella, chair, dining table]])",
    )
    min_score: float = Field(default=0.3, ge=0.0, le=1.0, description="lowest detector score that counts")
    min_box_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0, description="smallest box area, as a fraction of the frame's area, that counts"
    )
    min_duration_s: float = Field(
        default=60.0, ge=0.0, le=86400.0, description="media seconds the violation must persist before a case opens"
    )
    stationary_tolerance: float = Field(
        default=0.5,
        ge=0.0,
        le=5.0,
        description="how far (in box sizes) an object's ground point may move and still count as staying",
    )
    min_presence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="share of the analysed frames since an object was first seen in which that same object "
        "was seen again; a case opens only above it (a passer-by holds a spot for a frame or two, a parked car "
        "nearly always, even behind passers-by); 0 turns the check off",
    )
    min_continuity: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="a sighting continues an object's dwell only if its box overlaps (IoU) the object's last box "
        "by this much; for count/occupancy rules, the share of counted objects that must still be where they were",
    )
    min_similarity: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="a sighting continues an object's dwell only if its appearance (the colour layout of its "
        "crop) is this similar to the object's first sightings (about 0.8-0.95 for one object seen again, "
        "0.2-0.6 for two different people in one spot); 0 turns the check off",
    )
    min_count: int = Field(default=1, ge=1, le=1000, description="count rules: this many objects at once")
    min_coverage: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="occupancy rules: fraction of the zone's area covered by boxes; static_object rules: "
        "smallest object as a fraction of the zone's area",
    )
    gap_allowance_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description="missed detections, occlusions and id switches shorter than this don't restart the dwell",
    )
    clear_after_s: float = Field(
        default=30.0, ge=0.0, le=86400.0, description="an open case whose violation is gone this long is cleared"
    )
    re_report_s: float = Field(
        default=0.0, ge=0.0, le=7 * 86400.0, description="while still there, send an update this often; 0 = never"
    )
    cooldown_s: float = Field(
        default=0.0, ge=0.0, le=7 * 86400.0, description="after a clearing, no new case at the same place this long"
    )
    case_per: CasePer = Field(
        default="object",
        description="'object': one case per stationary object; 'zone': one open case per zone and rule "
        "that later objects join (count + 1) instead of opening another",
    )
    max_pictures: int = Field(
        default=4, ge=2, le=10, description="pictures per update message: the full frame plus the newest crops"
    )
    schedule: ScheduleConfig | None = Field(default=None, description="when the rule applies; none = always")
    enabled: bool = Field(default=True, description="a disabled rule keeps its zone but opens no cases")
    plates: bool = Field(default=False, description="read the plate of each case's vehicle (vehicle classes only)")

    @model_validator(mode="after")
    def _kind_needs(self) -> RuleConfig:
        if self.kind == RuleKind.COMBINATION:
            if len(self.groups) < 2 or not all(self.groups):
                raise ValueError("a combination rule needs at least two non-empty class groups in 'groups'")
        elif self.groups:
            raise ValueError(f"'groups' is for combination rules; a {self.kind} rule uses 'classes'")
        if self.kind == RuleKind.OCCUPANCY and self.min_coverage <= 0:
            raise ValueError("an occupancy rule needs min_coverage > 0")
        if self.kind != RuleKind.COUNT and self.min_count != 1:
            raise ValueError("min_count is for count rules")
        return self

    @property
    def all_classes(self) -> list[str]:
        return sorted({*self.classes, *(c for g in self.groups for c in g)})


class ZoneConfig(Section):
    id: str = Field(pattern=_ID, description="stable id within the camera; part of case ids")
    name: str = Field(default="", max_length=200, description="shown to dispatchers in cases")
    polygon: list[list[float]] = Field(description="3-20 [x, y] points normalised to 0..1 of the frame")
    rules: list[RuleConfig] = Field(default_factory=list, description="rules that apply inside this zone")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, value: list[list[float]]) -> list[list[float]]:
        problem = polygon_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _unique_rules(self) -> ZoneConfig:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule ids must be unique within a zone, repeated: {dupes}")
        return self

    @property
    def points(self) -> list[tuple[float, float]]:
        return [(float(x), float(y)) for x, y in self.polygon]
