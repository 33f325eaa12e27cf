"""A long-running thread's sign of life, read by the worker's supervisor (edge/runtime/supervisor.py).

A supervised loop calls `beat()` on every turn, its idle waits included (so an idle stage beats
too), and runs under `run_beating`, which records how the thread ended. The supervisor restarts a
stage whose thread ended while it should run, or whose heartbeat went quiet for longer than the
stage's own timeouts allow (a wedged thread: a hung detector, a deadlock).

Test seam: `inject(Fault.RAISE)` makes the next `beat()` raise `InjectedFault` (a `BaseException`,
so no stage's own error handling swallows it: the thread dies as it would on a bug outside its
handlers); `inject(Fault.BLOCK)` makes the next `beat()` block until `release()` (a wedged thread).
Each injected fault fires once, in whichever thread beats first. Nothing in production injects.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class Fault(enum.StrEnum):
    RAISE = "raise"
    BLOCK = "block"


class InjectedFault(BaseException):
    """Raised by `Heartbeat.beat()` after `inject(Fault.RAISE)` (tests only)."""


class Heartbeat:
    """When a thread last showed it is alive, and how it ended; safe to read from any thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._at = time.monotonic()
        self._error: str | None = None
        self._fault: Fault | None = None
        self._released = threading.Event()

    def beat(self) -> None:
        self._at = time.monotonic()
        if self._fault is not None:
            self._fire()

    def quiet_s(self, now: float | None = None) -> float:
        """Seconds since the last beat (monotonic clock)."""
        return max(0.0, (time.monotonic() if now is None else now) - self._at)

    @property
    def error(self) -> str | None:
        """How the thread last ended with an exception (None: it did not)."""
        return self._error

    def restarted(self) -> None:
        """A new thread takes over: it counts as beating from now and has not failed."""
        self._at = time.monotonic()
        self._error = None

    def ended(self, exc: BaseException) -> None:
        self._error = f"{type(exc).__name__}: {exc}"

    # -- test seam ---------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Make the next `beat()` raise or block (tests; see the module docstring)."""
        self._released.clear()
        self._fault = fault

    def release(self) -> None:
        """End an injected block: the wedged thread goes on (a replaced thread then ends by itself)."""
        self._released.set()

    def _fire(self) -> None:
        fault, self._fault = self._fault, None
        if fault is Fault.RAISE:
            raise InjectedFault(f"{self.name}: injected fault")
        if fault is Fault.BLOCK:
            self._released.wait()


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class SupervisedThread:
    """A stage's thread as its owner offers it to the supervisor.

    kind: inference, camera, delivery or patrol; alive: the current thread runs; restart: start a
    new thread in its place (the old one, if wedged, ends by itself once it wakes); done: it ended on
    purpose (a file camera whose file is over), never restarted; longest_wait_s: the longest its loop may
    rightly go without a beat (its own blocking timeouts), so it is never taken for wedged."""

    heartbeat: Heartbeat
    kind: str
    alive: Callable[[], bool]
    restart: Callable[[], None]
    done: Callable[[], bool] = _never
    longest_wait_s: float = 0.0

    @property
    def name(self) -> str:
        return self.heartbeat.name


def run_beating(heartbeat: Heartbeat, target: Callable[[], None]) -> None:
    """A supervised thread's body: runs `target`, recording (and logging) an exception that ends it,
    so the supervisor can name it; the exception goes no further (the thread just ends)."""
    try:
        heartbeat.beat()
        target()
    except BaseException as exc:  # whatever ends the thread: the supervisor restarts it
        heartbeat.ended(exc)
        log.error("thread %s ended with %s", heartbeat.name, heartbeat.error, exc_info=exc)
