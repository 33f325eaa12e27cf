"""When a patrol camera is visited next: the one arithmetic of the live scheduler and of patrol replay.

A camera is due `revisit_s` after its last visit started, up to `jitter` of that earlier (so cameras
that started together drift apart instead of reaching the video platform in lockstep), or earlier
still when one of its rules could decide then (a candidate old enough to confirm, an open case whose
object could be gone for `clear_after_s`): a violation is confirmed on the first visit that can
confirm it, not up to a revisit later. The jitter is a hash of camera id and visit number, so a
replay of the same clip and config visits at the same times on every run.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from edge.backoff import backoff_delay

DECISION_MARGIN_S = 0.5  # a decision visit comes this long after the rule could decide (a picture later)
FAILURE_BACKOFF_MAX = 8  # a failing camera is retried at most this many revisit intervals apart


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) for the given parts (the same on every run and every box)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(slots=True)
class VisitPlan:
    """One patrol camera's visit times (seconds on the wall clock, or a replayed clip's own clock)."""

    camera_id: str
    revisit_s: float
    jitter: float
    visits: int = 0  # visits started so far
    last_start: float | None = None

    def first_due(self, start: float, spread: bool) -> float:
        """The first visit: at `start`, or (`spread`, a box starting many cameras) somewhere in the first revisit."""
        return start + (self.revisit_s * unit_hash(self.camera_id, "phase") if spread else 0.0)

    def started(self, at: float) -> None:
        self.visits += 1
        self.last_start = at

    def next_due(self, decision_at: float | None = None) -> float:
        """When the next visit is due after the last one started; `decision_at`: the earliest time one of
        the camera's rules could confirm or clear (ignored if the last visit could already have)."""
        if self.last_start is None:
            raise RuntimeError(f"camera {self.camera_id}: no visit started yet")
        early = self.jitter * unit_hash(self.camera_id, self.visits)
        due = self.last_start + self.revisit_s * (1.0 - early)
        if decision_at is not None and decision_at > self.last_start:
            due = min(due, decision_at + DECISION_MARGIN_S)
        return due

    def retry_after(self, failures: int) -> float:
        """Seconds until a camera whose last `failures` visits failed is visited again: whole revisit
        intervals, doubling per failure up to FAILURE_BACKOFF_MAX, jittered to 50-100 % (edge/backoff.py)
        by camera id and visit number, so every run retries at the same offsets."""
        spread = random.Random(f"{self.camera_id}/retry/{self.visits}")
        return backoff_delay(failures, self.revisit_s, self.revisit_s * FAILURE_BACKOFF_MAX, spread)
