"""Rules compiled for one camera: class names resolved, the event looked up, state attached."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from edge.cases.lifecycle import Timing
from edge.cases.observe import AGNOSTIC, RuleSpec
from edge.cases.state import RuleState
from edge.config import CameraConfig, ConfigError, EdgeConfig, RuleConfig, RuleKind, ZoneConfig
from edge.config.events import EventType, event_classes
from edge.config.root import rule_problem
from edge.types import Detections


@lru_cache(maxsize=16)
def _file_version(path: Path, mtime: float) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:16]


def model_versions(config: EdgeConfig) -> dict[str, str]:
    """A model's version is its file's digest: the same weights always report the same version."""
    out = {}
    for model in config.models:
        path = Path(model.path)
        out[model.id] = _file_version(path, path.stat().st_mtime) if path.is_file() else "missing"
    return out


def models_for(camera: CameraConfig) -> list[str]:
    """Model ids a camera's enabled rules use (static_object rules count the scene model's objects)."""
    return sorted({p.rule.model for p in camera.rules(enabled_only=True) if p.rule.kind != RuleKind.STATIC_OBJECT})


def config_json(zone: ZoneConfig, rule: RuleConfig) -> dict[str, Any]:
    """The zone and rule as stored beside their state: a restart can tell whether they changed."""
    return {"zone": zone.model_dump(mode="json", exclude={"rules"}), "rule": rule.model_dump(mode="json")}


@dataclass
class CompiledRule:
    zone: ZoneConfig
    spec: RuleSpec
    event: EventType
    state: RuleState = field(default_factory=RuleState)
    dirty: bool = True

    @property
    def key(self) -> tuple[str, str]:
        return self.zone.id, self.spec.rule.id

    @property
    def timing(self) -> Timing:
        return Timing.of(self.spec.rule)

    @property
    def fingerprint(self) -> str:
        return json.dumps(config_json(self.zone, self.spec.rule), sort_keys=True)

    def detections(self, detections: Mapping[str, Detections], static_objects: Detections | None) -> Detections:
        """What the rule counts in a frame: its model's detections, or the scene's static objects."""
        if self.spec.rule.kind == RuleKind.STATIC_OBJECT:
            return static_objects if static_objects is not None else Detections.empty()
        return detections.get(self.spec.rule.model, Detections.empty())


def compile_rule(
    camera_id: str,
    zone: ZoneConfig,
    rule: RuleConfig,
    events: dict[str, EventType],
    class_names: dict[str, list[str]],
    strict: bool = True,
) -> CompiledRule:
    """Resolve the rule's classes (or its event's default classes) to the model's class ids.

    strict=False compiles a rule restored from the store whose config is gone: it only needs to
    draw and clear its open cases, so unknown names are tolerated instead of raised.
    """
    where = f"camera {camera_id!r} zone {zone.id!r} rule {rule.id!r}"
    problem = rule_problem(rule, events) if strict else None  # an edited rule meets the config file's check
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    event = events.get(rule.event_code)
    if event is None:  # a stored rule whose event is gone: it only draws and clears its open cases
        event = EventType.model_validate({"code": rule.event_code, "name": rule.event_name or rule.event_code})
    names = tuple(class_names.get(rule.model, ()))
    if rule.kind == RuleKind.STATIC_OBJECT:
        unknown = sorted(set(rule.classes) - {*names, AGNOSTIC})
        if strict and unknown:
            raise ConfigError(
                f"{where}: model {rule.model!r} has no classes {unknown}; it has {list(names)} "
                f"(and {AGNOSTIC!r}: an object no detector box explains)"
            )
        return CompiledRule(zone, RuleSpec(rule, tuple(zone.points), _static_ids(rule, event, names), (), names), event)
    wanted = sorted({*event_classes(event, rule.classes), *rule.all_classes})
    if strict and not names:
        raise ConfigError(f"{where}: no class names for model {rule.model!r}")
    unknown = sorted(set(wanted) - set(names))
    if strict and unknown:
        raise ConfigError(f"{where}: model {rule.model!r} has no classes {unknown}; it has {list(names)}")
    index = {n: i for i, n in enumerate(names)}
    class_ids = np.array([index[c] for c in wanted if c in index], np.int32) if wanted else None
    groups = tuple(np.array([index[c] for c in g if c in index], np.int32) for g in rule.groups)
    return CompiledRule(zone, RuleSpec(rule, tuple(zone.points), class_ids, groups, names), event)


def _static_ids(rule: RuleConfig, event: EventType, names: tuple[str, ...]) -> np.ndarray:
    """Class ids a static_object rule counts; -1 (AGNOSTIC) is an object no detector box explains.

    Without `classes`, a rule counts class-agnostic objects and its event's default classes the
    model knows, so a parked car (class 'car') is not also 'piled materials'.
    """
    index = {n: i for i, n in enumerate(names)} | {AGNOSTIC: -1}
    wanted = rule.classes or [AGNOSTIC, *event.default_classes]
    return np.array(sorted({index[c] for c in wanted if c in index}), np.int32)


def check_rule(
    camera_id: str, zone: ZoneConfig, rule: RuleConfig, events: dict[str, EventType], class_names: dict[str, list[str]]
) -> None:
    """Raise ConfigError exactly as the case engine would when it compiles this rule (for editors)."""
    compile_rule(camera_id, zone, rule, events, class_names)
