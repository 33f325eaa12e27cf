"""Reconnect delays: exponential, jittered so cameras behind one failed switch don't retry in lockstep, capped."""

from __future__ import annotations

import random


class Backoff:
    """Delay before the next connection attempt.

    Each failure doubles the delay up to `cap_s`; the actual wait is drawn from [delay/2, delay].
    A session that streamed for at least `cap_s` resets it, so a camera that flaps (connects, sends a
    frame, drops) keeps backing off instead of hammering the network.
    """

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if not 0 < initial_s <= cap_s:
            raise ValueError(f"backoff needs 0 < initial ({initial_s}) <= cap ({cap_s})")
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.initial_s * 2.0 ** min(self.failures, 60))
        self.failures += 1
        return self._rng.uniform(delay / 2, delay)

    def streamed(self, seconds: float) -> None:
        if seconds >= self.cap_s:
            self.failures = 0
