"""Composing case messages: the contract body and its evidence pictures for each case event.

The rule stepping decides what happened to a case (a `CaseEvent`, with what its message must show
captured when it happened); a `Composer` turns a frame's events into messages in one pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge import __version__
from edge.cases.contract import SCHEMA_ID
from edge.cases.evidence import CLEARED_COLOUR, Picture, annotate, crop, encode_bounded
from edge.cases.lifecycle import Phase
from edge.cases.observe import RuleSpec, case_per_zone
from edge.cases.privacy import Bystanders, Redactor
from edge.cases.rules import CompiledRule
from edge.cases.state import Case
from edge.config import RuleKind
from edge.config.camera import CameraConfig
from edge.config.events import EventType
from edge.config.zones import ZoneConfig
from edge.isotime import iso_utc
from edge.types import CaseMessage, Frame
from edge.zones.geometry import to_pixels

KIND_OF_PHASE = {Phase.CONFIRMED: "new", Phase.UPDATED: "update", Phase.CLEARED: "cleared"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What every body of one camera repeats: who sends it, from where, with which models."""

    worker_id: str
    source_label: str
    camera: CameraConfig
    model_versions: dict[str, str]
    max_kb: int


@dataclass(frozen=True, slots=True)
class Sighting:
    """The objects a message shows: the case's boxes (labelled) and the other counted boxes."""

    boxes: np.ndarray  # (K, 4)
    labels: list[str]
    others: np.ndarray  # (J, 4)
    measure: float | None = None


def picture(facts: Facts, frame: Frame, clock: float, name: str, kind: str, image: np.ndarray) -> Picture:
    jpeg, width, height = encode_bounded(image, facts.max_kb)
    return Picture(name, kind, jpeg, iso_utc(clock), frame.media_time, width, height)


def scene_picture(
    facts: Facts,
    spec: RuleSpec,
    frame: Frame,
    clock: float,
    *,
    name: str,
    kind: str,
    seen: Sighting,
    cleared: bool = False,
) -> Picture:
    """The full frame with the zone outline and the boxes drawn, captioned with the local time."""
    zone_px = to_pixels(spec.polygon, frame.width, frame.height)
    caption = f"{facts.camera.id} {iso_utc(clock)}"
    colour = CLEARED_COLOUR if cleared else (0, 0, 255)
    image = annotate(frame.image, zone_px, seen.boxes, seen.labels, seen.others, colour, caption)
    return picture(facts, frame, clock, name, kind, image)


def event_pictures(
    facts: Facts, spec: RuleSpec, frame: Frame, clock: float, seq: int, seen: Sighting, max_crops: int
) -> list[Picture]:
    """Full annotated frame plus crops of the case's objects (newest sighting first, up to a limit)."""
    out = [scene_picture(facts, spec, frame, clock, name=f"{seq:02d}-full.jpg", kind="full", seen=seen)]
    for i, box in enumerate(seen.boxes[:max_crops]):
        suffix = "" if i == 0 else f"-{i + 1}"
        out.append(picture(facts, frame, clock, f"{seq:02d}-crop{suffix}.jpg", "crop", crop(frame.image, box)))
    return out


def body(
    *,
    facts: Facts,
    event: EventType,
    zone: ZoneConfig,
    spec: RuleSpec,
    case: Case,
    frame: Frame,
    evidence: list[Picture],
    objects: int,
    measure: float | None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The contract body (docs/case-contract.md) of the message that moved `case` to its phase."""
    rule = spec.rule
    kind = KIND_OF_PHASE[case.phase]
    location = facts.camera.location
    box = np.asarray(case.box, np.float64)
    scale = np.array([frame.width, frame.height, frame.width, frame.height], np.float64)
    model_id = "scene" if rule.kind == RuleKind.STATIC_OBJECT else rule.model
    duration = max(0.0, case.last_seen - case.first_seen)
    place = zone.name or zone.id
    return {
        "schema": SCHEMA_ID,
        "case_id": case.case_id,
        "message_id": f"{case.case_id}:{case.seq}",
        "seq": case.seq,
        "kind": kind,
        "status": case.phase.value,
        "camera": {"id": facts.camera.id, "name": facts.camera.name},
        "event": {
            "code": event.code,
            "name": rule.event_name or event.name,
            "major_code": event.major_code,
            "major_name": event.major_name,
        },
        "severity": rule.severity or event.severity,
        "source": facts.source_label,
        "description": f"{rule.event_name or event.name}: {case.label} in {place} for {duration:.0f} s",
        "zone": {"id": zone.id, "name": zone.name, "version": case.zone_version},
        "rule": {
            "id": rule.id,
            "kind": rule.kind,
            "case_per": "zone" if case_per_zone(rule) else "object",
            "min_duration_s": rule.min_duration_s,
        },
        "times": {
            "first_seen": iso_utc(case.first_seen),
            "confirmed": iso_utc(case.confirmed),
            "updated": None if case.updated is None else iso_utc(case.updated),
            "cleared": None if case.cleared is None else iso_utc(case.cleared),
            "duration_s": round(duration, 3),
            "first_seen_media_s": round(case.first_media, 3),
            "confirmed_media_s": round(case.confirmed_media, 3),
            "message_media_s": round(frame.media_time, 3),
        },
        "location": {
            "longitude": location.longitude,
            "latitude": location.latitude,
            "address": location.address,
            "grid_code": location.grid_code,
        },
        "detection": {
            "class": case.label,
            "score": round(float(case.score), 4),
            "box": [round(float(v), 1) for v in box],
            "box_norm": [round(float(v), 5) for v in np.clip(box / scale, 0.0, 1.0)],
            "frame": {"width": frame.width, "height": frame.height},
            "objects": objects,
            "measure": None if measure is None else round(float(measure), 4),
        },
        "evidence": [p.entry() for p in evidence],
        "worker": {"id": facts.worker_id, "version": __version__},
        "model": {"id": model_id, "version": facts.model_versions.get(model_id, __version__)},
        "repeat_count": case.repeat_count,
        "reason": reason,
    }


def message(case: Case, body_: dict[str, Any], evidence: list[Picture]) -> CaseMessage:
    return CaseMessage(case.case_id, case.seq, body_["kind"], body_, {p.name: p.jpeg for p in evidence})


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseEvent:
    """A case's move in one frame, as the rule stepping decided it, with what its message shows.

    `case`: a copy as the move left it (later moves of the frame, a second object joining it, do
    not change this message); `first`: a new case's first-seen picture; `reason`: why a case was
    cleared when not because its object left."""

    rule: CompiledRule
    case: Case
    seen: Sighting
    objects: int
    first: Picture | None = None
    reason: str | None = None

    @classmethod
    def of(
        cls,
        rule: CompiledRule,
        case: Case,
        seen: Sighting,
        objects: int,
        *,
        first: Picture | None = None,
        reason: str | None = None,
    ) -> CaseEvent:
        """The event of `case` as it stands now (copied)."""
        return cls(rule=rule, case=dataclasses.replace(case), seen=seen, objects=objects, first=first, reason=reason)


class Composer:
    """Turns case events into messages: evidence pictures (bystanders blurred when asked) and bodies."""

    def __init__(self, redactor: Redactor | None) -> None:
        self.redactor = redactor

    def messages(
        self, facts: Facts, frame: Frame, clock: float, events: Sequence[CaseEvent], seen: Bystanders | None
    ) -> list[CaseMessage]:
        """One message per event, in order; `seen`: the frame's people and vehicles (privacy)."""
        return [self._message(facts, frame, clock, event, seen) for event in events]

    def _message(
        self, facts: Facts, frame: Frame, clock: float, event: CaseEvent, seen: Bystanders | None
    ) -> CaseMessage:
        case, spec, sighting = event.case, event.rule.spec, event.seen
        shown = self.shown(frame, sighting.boxes, seen)
        if case.phase is Phase.CLEARED:
            name = f"{case.seq:02d}-after.jpg"
            evidence = [scene_picture(facts, spec, shown, clock, name=name, kind="after", seen=sighting, cleared=True)]
        else:
            crops = 1 if case.phase is Phase.CONFIRMED else spec.rule.max_pictures - 1
            evidence = event_pictures(facts, spec, shown, clock, case.seq, sighting, crops)
            if event.first is not None:
                evidence.append(dataclasses.replace(event.first, name="01-first_seen.jpg"))
        body_ = body(
            facts=facts,
            event=event.rule.event,
            zone=event.rule.zone,
            spec=spec,
            case=case,
            frame=frame,
            evidence=evidence,
            objects=event.objects,
            measure=sighting.measure,
            reason=event.reason,
        )
        return message(case, body_, evidence)

    def shown(self, frame: Frame, subjects: np.ndarray, seen: Bystanders | None) -> Frame:
        """The frame a picture of the objects `subjects` is made from: bystanders (`seen`) blurred if asked."""
        return frame if self.redactor is None else self.redactor.frame(frame, seen, subjects)
