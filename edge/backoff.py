"""Retry delays, one rule for every retry in the box: exponential, capped, jittered.

Cameras reconnecting, the MQTT connection, messages waiting in the outbox and patrol visits to a
failing camera all wait `backoff_delay`. The jitter ("equal jitter": 50-100 % of the delay) keeps
cameras behind one failed switch, or boxes behind one broker, from retrying in lockstep.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 60  # 2**60 times any initial delay is past every cap; stops the float overflowing


def backoff_delay(failures: int, initial_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Wait after `failures` consecutive failures (1 = the first): initial * 2**(failures-1), capped, jittered."""
    delay = min(cap_s, initial_s * 2.0 ** min(max(failures - 1, 0), _MAX_DOUBLINGS))
    return (rng or random).uniform(delay / 2, delay)


class Backoff:
    """Delay before the next attempt of one connection.

    Each failure doubles the delay up to `cap_s`. A session that ran for at least `cap_s` resets it,
    so a camera that flaps (connects, sends a frame, drops) keeps backing off instead of hammering
    the network.
    """

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if not 0 < initial_s <= cap_s:
            raise ValueError(f"backoff needs 0 < initial ({initial_s}) <= cap ({cap_s})")
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        self.failures += 1
        return backoff_delay(self.failures, self.initial_s, self.cap_s, self._rng)

    def streamed(self, seconds: float) -> None:
        if seconds >= self.cap_s:
            self.failures = 0
