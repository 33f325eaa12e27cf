"""A read-only, typed view of one camera's rules: the places being timed and the open cases.

Served by the operator API and drawn on the annotated video; built under the pipeline's lock, then
plain data that any thread may read.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.cases.lifecycle import Phase
from edge.cases.rules import CompiledRule
from edge.cases.state import Case
from edge.cases.suppress import SuppressionView


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
