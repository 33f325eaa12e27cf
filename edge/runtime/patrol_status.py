"""What operators see of the patrol: per camera (last visit, next due, failures) and per box (visits
per minute, achieved revisit interval against the target, visits overdue, overloaded or not)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

OVERDUE_SHARE = 0.1  # a camera is overdue once past its due time by this share of its revisit interval
OVERLOAD_RATIO = 1.1  # achieved revisit p95 above target by this much: the box cannot keep up
WINDOW = 1024  # visits remembered for the rates and percentiles
RATE_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class CameraPatrolStatus:
    camera_id: str
    kind: str  # "stream" or "snapshot"
    revisit_s: float  # the target
    visits: int
    failed_visits: int
    consecutive_failures: int
    last_visit_at: float | None  # time.time() the last visit started
    last_visit_s: float | None  # how long it took
    last_pictures: int
    last_error: str | None  # why the last failed visit failed (kept until one succeeds)
    next_due_at: float | None  # time.time() the next visit is due
    in_flight: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class BoxPatrolStatus:
    cameras: int
    max_concurrent_visits: int
    in_flight: int
    visits_per_minute: float
    revisit_p50_s: float | None  # achieved interval between a camera's visit starts
    revisit_p95_s: float | None
    target_revisit_s: float | None  # median target of the patrol cameras
    revisit_ratio_p95: float | None  # achieved / target interval, 95th percentile
    overdue: int  # cameras past due by more than OVERDUE_SHARE of their interval, waiting for a slot
    overloaded: bool

    @property
    def detail(self) -> str:
        """One line for /readyz and the log."""
        if self.revisit_p95_s is None:
            return f"patrol: {self.cameras} cameras, no revisit measured yet, {self.overdue} overdue"
        state = "overloaded: cannot visit every camera in time" if self.overloaded else "keeping up"
        return (
            f"patrol {state}: {self.cameras} cameras, achieved revisit p95 {self.revisit_p95_s:.1f} s "
            f"(target {self.target_revisit_s:.1f} s), {self.overdue} overdue, {self.visits_per_minute:.0f} visits/min"
        )


class PatrolStats:
    """Box-wide counters of the patrol (the scheduler holds its own lock around every call)."""

    def __init__(self) -> None:
        self._intervals: deque[tuple[float, float]] = deque(maxlen=WINDOW)  # (achieved, target)
        self._starts: deque[float] = deque(maxlen=WINDOW)

    def visit_started(self, at: float, previous: float | None, target_s: float) -> None:
        self._starts.append(at)
        if previous is not None:
            self._intervals.append((at - previous, target_s))

    def box(self, cameras: int, limit: int, in_flight: int, overdue: int, targets: list[float]) -> BoxPatrolStatus:
        now = time.time()
        recent = sum(1 for t in self._starts if t >= now - RATE_WINDOW_S)
        span = min(RATE_WINDOW_S, now - self._starts[0]) if self._starts else 0.0
        per_minute = recent * 60.0 / span if span >= 1.0 else 0.0
        p50 = p95 = ratio = None
        if self._intervals:
            achieved = np.array([a for a, _ in self._intervals])
            ratios = achieved / np.array([t for _, t in self._intervals])
            p50, p95 = (float(v) for v in np.percentile(achieved, [50, 95]))
            ratio = float(np.percentile(ratios, 95))
        target = float(np.median(targets)) if targets else None
        overloaded = overdue > 0 or (ratio is not None and ratio > OVERLOAD_RATIO)
        return BoxPatrolStatus(cameras, limit, in_flight, per_minute, p50, p95, target, ratio, overdue, overloaded)
