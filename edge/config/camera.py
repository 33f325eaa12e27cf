"""Cameras: where the video comes from, where the camera stands, how often to analyse."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from edge.config.base import Section
from edge.config.patrol import AnalysisMode, SnapshotAuth, SourceKind, patrol_problem
from edge.config.zones import RuleConfig, ZoneConfig


class SourceConfig(Section):
    url: str = Field(description="rtsp://, http(s):// or a file path (relative to the config file)")
    kind: SourceKind = Field(
        default="stream",
        description="'stream': video (RTSP, HTTP, a file); 'snapshot': an http(s) URL answering one JPEG",
    )
    auth: SnapshotAuth = Field(default="none", description="snapshot sources: HTTP basic or digest authentication")
    username: str = Field(default="", max_length=200, description="snapshot sources: the user name for `auth`")
    password_env: str = Field(
        default="",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,127})?$",
        description="snapshot sources: the environment variable holding the password (never the password itself)",
    )
    transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP transport")
    loop: bool = Field(default=False, description="replay a file forever as if it were live (demos)")
    live: bool = Field(
        default=True, description="read at the stream's own pace; false reads a file as fast as it decodes (benchmarks)"
    )
    open_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=5.0, gt=0, le=120)
    stall_timeout_s: float = Field(default=10.0, gt=0, le=600, description="no frame for this long forces a reconnect")
    backoff_initial_s: float = Field(default=0.5, gt=0, le=60, description="first reconnect delay; doubles per failure")
    backoff_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="longest reconnect delay; streaming this long resets the backoff"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source url is empty")
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme and scheme not in {"rtsp", "rtsps", "http", "https"}:
            raise ValueError(f"unsupported source scheme {scheme!r}: use rtsp://, http(s):// or a file path")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.loop and "://" in self.url:
            raise ValueError("loop applies to files only; a stream URL reconnects by itself when it ends")
        if self.kind == "snapshot" and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("a snapshot source is an http(s):// URL answering one JPEG")
        if self.auth != "none" and not (self.username and self.password_env):
            raise ValueError(f"auth {self.auth} needs username and password_env (the variable holding the password)")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"backoff_initial_s ({self.backoff_initial_s:g}) is larger than backoff_max_s ({self.backoff_max_s:g})"
            )
        return self


class AnalysisConfig(Section):
    fps: float = Field(default=2.0, gt=0, le=60, description="analysed frames per second of media time")
    decode: Literal["auto", "keyframes", "all"] = Field(
        default="auto", description="'auto' decodes key frames only when the rules' needs allow it"
    )
    mode: AnalysisMode = Field(
        default="continuous",
        description="'continuous': the stream stays open and every sampled frame is analysed; 'patrol': the "
        "camera is visited every revisit_s for a few pictures, its rules remembering what they saw between visits",
    )
    revisit_s: float | None = Field(
        default=None,
        ge=1.0,
        le=86400.0,
        description="patrol: seconds from one visit to the next; none = a third of the shortest min_duration_s / "
        "clear_after_s of the camera's rules",
    )
    pictures_per_visit: int = Field(
        default=4,
        ge=1,
        le=20,
        description="patrol: analysable pictures (key frames, or snapshots) taken per visit; several show whether "
        "an object stays or walks through, as the frames of a continuous camera do",
    )
    visit_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="patrol: a visit that has not got its pictures by then ends (failed if none)",
    )


class LocationConfig(Section):
    longitude: float = Field(default=0.0, ge=-180, le=180)
    latitude: float = Field(default=0.0, ge=-90, le=90)
    address: str = ""
    grid_code: str = Field(
        default="", description="15-digit unit-grid code (6 county + 3 street + 3 community + 3 seq)"
    )

    @field_validator("grid_code")
    @classmethod
    def _grid(cls, value: str) -> str:
        if value and not (len(value) == 15 and value.isdigit()):
            raise ValueError(f"grid_code must be 15 digits, got {value!r}")
        return value


@dataclass(frozen=True)
class PlacedRule:
    """A rule with the zone it is written in: what every walk over a camera's rules needs."""

    zone: ZoneConfig
    rule: RuleConfig


class CameraConfig(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="stable id, used in case ids")
    name: str = ""
    source: SourceConfig
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    location: LocationConfig = Field(default_factory=LocationConfig)
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone that rule schedules are written in")
    enabled: bool = True
    clip: bool = Field(
        default=False, description="attach a short video clip to each new case (evidence.clip sets its length)"
    )
    zones: list[ZoneConfig] = Field(default_factory=list)

    def rules(self, *, enabled_only: bool = False) -> Iterator[PlacedRule]:
        """Every rule of every zone, in config order (only the enabled ones with `enabled_only`)."""
        for zone in self.zones:
            for rule in zone.rules:
                if rule.enabled or not enabled_only:
                    yield PlacedRule(zone, rule)

    @model_validator(mode="after")
    def _patrol(self) -> CameraConfig:
        problem = patrol_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Asia/Shanghai')") from None
        return value
