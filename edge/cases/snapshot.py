"""A read-only, typed view of one camera's rules: the places being timed and the open cases.

Served by the operator API and drawn on the annotated video; built under the pipeline's lock, then
plain data that any thread may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge.cases.lifecycle import Phase
from edge.cases.rules import CompiledRule
from edge.cases.schedule import schedule_active
from edge.cases.state import Case
from edge.cases.suppress import SuppressionView
from edge.config import CameraConfig


@dataclass(frozen=True, slots=True)
class PlaceView:
    key: str
    box: tuple[float, float, float, float]
    label: str
    dwell_s: float  # seen for this long so far
    absent_s: float  # not seen for this long (0 when seen in the latest frame)
    case_id: str | None  # None while a candidate

    @property
    def phase(self) -> str:
        return Phase.CANDIDATE.value if self.case_id is None else "attached"


@dataclass(frozen=True, slots=True)
class RuleView:
    rule_id: str
    kind: str
    event_code: str
    active: bool  # enabled and inside its schedule now
    min_duration_s: float
    places: tuple[PlaceView, ...]
    open_cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True)
class ZoneView:
    zone_id: str
    name: str
    rules: list[RuleView]


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    camera_id: str
    clock: float | None
    zone_version: int
    zones: list[ZoneView]
    suppressed: tuple[SuppressionView, ...] = ()  # objects the platform rejected, never a candidate here


def camera_snapshot(
    camera: CameraConfig,
    rules: Iterable[CompiledRule],
    zone_version: int,
    now: float | None,
    suppressed: tuple[SuppressionView, ...],
) -> CaseSnapshot:
    """The camera's rules by zone, at clock value `now` (None before its first frame)."""
    zones: dict[str, tuple[str, list[RuleView]]] = {}
    for r in rules:
        rule = r.spec.rule
        active = rule.enabled and (now is None or schedule_active(rule.schedule, now, camera.timezone))
        zones.setdefault(r.zone.id, (r.zone.name, []))[1].append(rule_view(r, now, active))
    return CaseSnapshot(
        camera_id=camera.id,
        clock=now,
        zone_version=zone_version,
        zones=[ZoneView(zone_id, name, views) for zone_id, (name, views) in zones.items()],
        suppressed=suppressed,
    )


def rule_view(r: CompiledRule, now: float | None, active: bool) -> RuleView:
    rule, places = r.spec.rule, r.state.places
    return RuleView(
        rule_id=rule.id,
        kind=rule.kind,
        event_code=rule.event_code,
        active=active,
        min_duration_s=rule.min_duration_s,
        places=tuple(
            PlaceView(
                key=str(places.key[i]),
                box=tuple(round(float(v), 1) for v in places.box[i]),  # type: ignore[arg-type]
                label=str(places.label[i]),
                dwell_s=round(float(places.last_seen[i] - places.first_seen[i]), 3),
                absent_s=0.0 if now is None else round(float(now - places.last_seen[i]), 3),
                case_id=str(places.case[i]) or None,
            )
            for i in range(len(places))
        ),
        open_cases=tuple(Case.from_json(c.to_json()) for c in r.state.cases.values()),
    )
