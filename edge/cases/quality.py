"""Quality per camera, zone and rule, from the platform's verdicts: which zones send workers for nothing.

Precision is confirmed / (confirmed + false alarms) over the cases the platform judged. A zone/rule
with at least `flag_min_verdicts` verdicts and a precision under `flag_below_precision` is flagged
for an operator to look at (tune the zone, the rule, the model); the box never silences it itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edge.cases.store import CaseStore
from edge.config.verdicts import VerdictsConfig


@dataclass(frozen=True, slots=True)
class Quality:
    camera_id: str
    zone_id: str
    rule_id: str
    cases: int  # opened, as the case store keeps them
    confirmed: int
    false_alarms: int
    reasons: dict[str, int] = field(default_factory=dict)  # false alarms by reason
    flagged: bool = False

    @property
    def verdicts(self) -> int:
        return self.confirmed + self.false_alarms

    @property
    def precision(self) -> float | None:
        """None until the platform judged a case of this zone/rule."""
        return self.confirmed / self.verdicts if self.verdicts else None

    def to_json(self) -> dict[str, Any]:
        precision = self.precision
        return {
            "camera_id": self.camera_id,
            "zone_id": self.zone_id,
            "rule_id": self.rule_id,
            "cases": self.cases,
            "verdicts": self.verdicts,
            "confirmed": self.confirmed,
            "false_alarms": self.false_alarms,
            "false_alarm_reasons": self.reasons,
            "precision": None if precision is None else round(precision, 4),
            "flagged": self.flagged,
        }


def quality(store: CaseStore, camera_id: str, bounds: VerdictsConfig) -> list[Quality]:
    """One row per zone/rule of the camera that opened a case or got a verdict, flagged where noisy."""
    cases = store.case_counts(camera_id)
    confirmed: Counter[tuple[str, str]] = Counter()
    reasons: dict[tuple[str, str], Counter[str]] = {}
    for v in store.verdicts(camera_id):
        key = (v.zone_id, v.rule_id)
        if v.verdict == "confirmed":
            confirmed[key] += 1
        else:
            reasons.setdefault(key, Counter())[v.reason or "other"] += 1
    rows = []
    for key in sorted({*cases, *confirmed, *reasons}):
        why = reasons.get(key, Counter())
        judged = confirmed[key] + sum(why.values())
        flagged = judged >= bounds.flag_min_verdicts and confirmed[key] / judged < bounds.flag_below_precision
        rows.append(
            Quality(
                camera_id,
                *key,
                cases.get(key, 0),
                confirmed[key],
                sum(why.values()),
                dict(sorted(why.items())),
                flagged,
            )
        )
    return rows
