"""The whole worker configuration: one typed tree, loaded from one YAML file."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, model_validator

from edge.config.api import ApiConfig
from edge.config.base import Section
from edge.config.camera import CameraConfig
from edge.config.delivery import PlatformConfig, StorageConfig
from edge.config.events import DEFAULT_EVENTS, EventType
from edge.config.evidence import EvidenceConfig
from edge.config.model import InferenceConfig, ModelConfig
from edge.config.patrol import PatrolConfig
from edge.config.plates import PlateReaderConfig, plate_rule_problem
from edge.config.scene import ChangeGateConfig, SceneConfig, ViewChangeConfig
from edge.config.supervision import SupervisionConfig
from edge.config.tracking import TrackerConfig
from edge.config.verdicts import VerdictsConfig
from edge.config.verification import VerificationConfig
from edge.config.zones import RuleConfig, RuleKind

CONFIG_VERSION = 1
CLASS_FREE_KINDS = (RuleKind.COMBINATION, RuleKind.STATIC_OBJECT)  # classes come from 'groups' / the scene model


class WorkerConfig(Section):
    id: str = Field(default="edge-01", description="this box's id, reported with every case")
    mmap_threshold_kb: int = Field(
        default=128,
        ge=0,
        le=32768,
        description="allocations this large get their own memory map, returned when freed (0: glibc's dynamic "
        "threshold, under which picture buffers fragment the heap); MALLOC_MMAP_THRESHOLD_ in the environment wins",
    )
    supervision: SupervisionConfig = Field(
        default_factory=SupervisionConfig, description="restarts of a stage thread that died or is wedged"
    )


class EdgeConfig(Section):
    version: int = Field(default=CONFIG_VERSION, description="config schema version")
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    models: list[ModelConfig] = Field(min_length=1)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    cameras: list[CameraConfig] = Field(default_factory=list)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    scene: SceneConfig = Field(default_factory=SceneConfig)
    view_change: ViewChangeConfig = Field(default_factory=ViewChangeConfig)
    change_gate: ChangeGateConfig = Field(default_factory=ChangeGateConfig)
    platform: PlatformConfig = Field(default_factory=PlatformConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    verdicts: VerdictsConfig = Field(default_factory=VerdictsConfig)
    plate_reader: PlateReaderConfig = Field(default_factory=PlateReaderConfig)
    patrol: PatrolConfig = Field(default_factory=PatrolConfig)

    @model_validator(mode="after")
    def _cross_references(self) -> EdgeConfig:
        if self.version != CONFIG_VERSION:
            raise ValueError(f"config version {self.version} is not supported (this worker reads {CONFIG_VERSION})")
        if self.platform.kind == "mqtt" and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.worker.id):
            raise ValueError(f"worker.id {self.worker.id!r} names MQTT topics and the client: 1-64 of [A-Za-z0-9_.-]")
        _unique("models", [m.id for m in self.models])
        _unique("cameras", [c.id for c in self.cameras])
        events = {e.code: e for e in self.events}
        model_ids = {m.id for m in self.models}
        for cam in self.cameras:
            _unique(f"zones of camera {cam.id!r}", [z.id for z in cam.zones])
            if cam.clip and self.evidence.privacy.enabled:
                raise ValueError(
                    f"camera {cam.id!r}: clip is on while evidence.privacy is enabled; a clip is remuxed, not "
                    "re-encoded, so its bystanders cannot be blurred: turn one of them off (docs/evidence.md)"
                )
            for placed in cam.rules():
                rule = placed.rule
                where = f"camera {cam.id!r} zone {placed.zone.id!r} rule {rule.id!r}"
                problem = rule_problem(rule, events)
                if problem is not None:
                    raise ValueError(f"{where}: {problem}")
                if rule.model == "default":
                    object.__setattr__(rule, "model", self.models[0].id)
                elif rule.model not in model_ids:
                    raise ValueError(f"{where}: unknown model {rule.model!r}; known: {sorted(model_ids)}")
        return self

    def event(self, code: str) -> EventType:
        return next(e for e in self.events if e.code == code)

    def model(self, model_id: str) -> ModelConfig:
        return next(m for m in self.models if m.id == model_id)

    def camera(self, camera_id: str) -> CameraConfig:
        return next(c for c in self.cameras if c.id == camera_id)


def rule_problem(rule: RuleConfig, events: Mapping[str, EventType]) -> str | None:
    """What keeps a rule from running with these event types, or None: an unknown event, nothing to
    count, plates on a rule that cannot read them.

    The one check of a rule's own fields against the event table: the config file's validation and
    the case engine (rules edited while the worker runs) both ask it."""
    event = events.get(rule.event_code)
    if event is None:
        return f"unknown event code {rule.event_code!r}; known: {sorted(events)}"
    if not rule.classes and not event.default_classes and rule.kind not in CLASS_FREE_KINDS:
        return f"no classes given, and event {event.code} has no default classes"
    if rule.plates:
        return plate_rule_problem(rule.kind, rule.classes or event.default_classes)
    return None


def _unique(what: str, ids: list[str]) -> None:
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{what} ids must be unique, repeated: {dupes}")
