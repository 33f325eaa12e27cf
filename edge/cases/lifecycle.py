"""The case lifecycle as an enum state machine, and the pure decisions that drive it.

candidate -> confirmed (the "new" message) -> updated (re-reports) -> cleared (gone for
clear_after_s; the "cleared" message); a plate rule's cleared case goes back to updated when its
plate comes back within re_report_s (`comeback`). The decisions are plain functions of clock
values (seconds on the engine clock), vectorised over places, so they are tested with tables and
the engine only applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from edge.config.zones import RuleConfig


class Phase(StrEnum):
    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"
    UPDATED = "updated"
    CLEARED = "cleared"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CANDIDATE: frozenset({Phase.CONFIRMED}),
    Phase.CONFIRMED: frozenset({Phase.UPDATED, Phase.CLEARED}),
    Phase.UPDATED: frozenset({Phase.UPDATED, Phase.CLEARED}),
    Phase.CLEARED: frozenset({Phase.UPDATED}),  # reopened by its plate (edge/cases/comeback.py)
}


def advance(current: Phase, target: Phase) -> Phase:
    """The only way a case changes phase: an illegal move is a bug, not a silent overwrite."""
    if target not in TRANSITIONS[current]:
        raise ValueError(f"case cannot go from {current} to {target}")
    return target


@dataclass(frozen=True, slots=True)
class Timing:
    """The rule's clock parameters, in seconds."""

    min_duration_s: float
    gap_allowance_s: float
    clear_after_s: float
    re_report_s: float
    cooldown_s: float
    min_presence: float = 0.0  # share of the dwell's analysed frames in which the same object was seen

    @classmethod
    def of(cls, rule: RuleConfig) -> Timing:
        return cls(
            rule.min_duration_s,
            rule.gap_allowance_s,
            rule.clear_after_s,
            rule.re_report_s,
            rule.cooldown_s,
            rule.min_presence,
        )


def absent_for(now: float, last_seen: np.ndarray | float, observed_since: float) -> np.ndarray:
    """Seconds a place has been *observed* absent: time the worker was down or the camera was
    disconnected (before `observed_since`) is not evidence that the object left."""
    return now - np.maximum(np.asarray(last_seen, np.float64), observed_since)


def candidate_decisions(
    now: float,
    first_seen: np.ndarray,
    last_seen: np.ndarray,
    attached: np.ndarray,
    timing: Timing,
    observed_since: float = -np.inf,
    presence: np.ndarray | None = None,
    visit_started: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """(drop, confirm) masks for places.

    A candidate absent for longer than the gap allowance is dropped (its dwell restarts if it comes
    back); one seen now that has stayed for min_duration_s, and was seen in at least min_presence of
    the frames since (`presence`, 0..1 per place), is confirmed. Places attached to an open case
    are never dropped here: they live until `gone` says so. A patrol camera confirms only places first
    seen before the current visit (`visit_started`): a case needs sightings on two visits.
    """
    seen_now = last_seen >= now
    drop = ~attached & (absent_for(now, last_seen, observed_since) > timing.gap_allowance_s)
    confirm = ~attached & seen_now & (last_seen - first_seen >= timing.min_duration_s) & (first_seen < visit_started)
    if presence is not None:
        confirm &= presence >= timing.min_presence
    return drop, confirm


def gone(now: float, last_seen: np.ndarray | float, timing: Timing, observed_since: float = -np.inf) -> np.ndarray:
    """Absent for clear_after_s: the violation has ended (a place of an open case, or the case)."""
    return absent_for(now, last_seen, observed_since) > timing.clear_after_s


def case_decision(
    phase: Phase, now: float, last_seen: float, last_report: float, timing: Timing, observed_since: float = -np.inf
) -> Phase | None:
    """What an open case does this frame: clear, re-report (an update), or nothing (None)."""
    if phase not in (Phase.CONFIRMED, Phase.UPDATED):
        return None
    if bool(gone(now, last_seen, timing, observed_since)):
        return Phase.CLEARED
    seen_now = last_seen >= now
    if seen_now and timing.re_report_s > 0 and now - last_report >= timing.re_report_s:
        return Phase.UPDATED
    return None


def in_cooldown(now: float, until: np.ndarray) -> np.ndarray:
    """Which cooldown entries (clock value each ends at) still suppress a new case."""
    return now < np.asarray(until, np.float64)
