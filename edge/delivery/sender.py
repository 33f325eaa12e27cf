"""The sender: drains the outbox through a sink (HTTP or MQTT), one message at a time, in order per case.

The sink delivers and reports an outcome (`edge.delivery.sink`); the sender decides what
happens next, the same for every kind of sink:

    Acked     -> delivered
    Retry     -> transient: retry forever with backoff
    Rejected  -> permanent: dead letter with the platform's answer

A failed message waits its own exponential backoff (with jitter) before its next try,
and its case waits with it; other cases go on at once, so one message the platform keeps
failing on cannot hold everything up. From the third failure in a row, or whenever the
answer carries a wait hint (`Retry-After`), the whole sender pauses as well (the platform itself is down
or struggling: no point hammering it with the next message). Scattered failures of a flaky
platform rarely come three in a row, so they cost little throughput. Every message carries its
`message_id`, the platform's idempotency key; a message that was stored by the platform but
whose acknowledgement was lost is simply sent again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from edge.config.delivery import PlatformConfig
from edge.delivery.outbox import Outbox, OutboxItem, OutboxStats
from edge.delivery.sink import Acked, Rejected, Sink, open_sink

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0  # picks up re-queues made by another process (the `edge outbox` CLI)
PAUSE_AFTER_FAILURES = 3  # failures in a row that mean "the platform is down", not "this message"


@dataclass(frozen=True, slots=True)
class SenderHealth:
    """What an operator needs to know about delivery at a glance."""

    state: Literal["stopped", "ok", "retrying"]
    consecutive_failures: int
    last_error: str | None
    last_error_at: float | None
    last_success_at: float | None
    delivered_since_start: int
    outbox: OutboxStats


class Sender:
    """Delivers outbox messages through a sink, in a background thread or on demand."""

    def __init__(
        self,
        outbox: Outbox,
        platform: PlatformConfig,
        sink: Sink | None = None,
        *,
        env: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`sink`: from `open_sink()`; without one, the HTTP sink of `platform` (MQTT needs the worker id)."""
        if sink is None:
            if platform.kind != "http":
                raise ValueError(f"a {platform.kind} platform needs its sink: open_sink(platform, worker_id)")
            sink = open_sink(platform, "", env=env)
        self.outbox = outbox
        self.platform = platform
        self.sink = sink
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pause_until = 0.0
        self._failures = 0
        self._delivered = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_success_at: float | None = None
        outbox.retry_all_now()

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="edge-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the thread after the message in flight; the sink stays usable."""
        self._stop.set()
        self.outbox.changed.set()
        if self._thread:
            self._thread.join(timeout_s if timeout_s is not None else self.platform.timeout_s + 5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.sink.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.outbox.changed.clear()
            try:
                wait = self._step()
            except Exception as exc:  # the thread must outlive disk or database hiccups
                log.exception("sender step failed")
                self._note_error(f"{type(exc).__name__}: {exc}")
                wait = self._backoff(max(self._failures, 1))
            if wait is None or wait > 0:
                self.outbox.changed.wait(IDLE_POLL_S if wait is None else min(wait, IDLE_POLL_S))

    def deliver_pending(self, timeout_s: float) -> int:
        """Deliver until nothing sendable is left or `timeout_s` passes; returns how many were delivered."""
        deadline = time.monotonic() + timeout_s
        start = self._delivered
        while True:
            wait = self._step()
            left = deadline - time.monotonic()
            if wait is None or left <= 0:
                break
            if wait > 0:
                time.sleep(min(wait, left))
        return self._delivered - start

    def _step(self) -> float | None:
        """Try one message. Returns seconds until another try makes sense, None when nothing waits."""
        now = time.time()
        if now < self._pause_until:
            return self._pause_until - now
        item = self.outbox.next_ready(now)
        if item is None:
            due = self.outbox.next_attempt_time()
            return None if due is None else max(0.0, due - now)
        self._attempt(item)
        return max(0.0, self._pause_until - time.time())

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(self, item: OutboxItem) -> None:
        msg = item.message
        outcome = self.sink.deliver(item)
        if isinstance(outcome, Acked):
            self.outbox.mark_delivered(item.pk)
            self._failures = 0
            self._delivered += 1
            self._last_success_at = time.time()
        elif isinstance(outcome, Rejected):
            self.outbox.mark_dead(item.pk, outcome.status, outcome.response)
            self._failures = 0  # the platform answered; it is up
            self._note_error(
                f"{msg.message_id} dead-lettered: {self.sink.kind} {outcome.status}: {outcome.response[:200]}"
            )
            log.error(
                "case message %s rejected (%s %s): %s",
                msg.message_id,
                self.sink.kind,
                outcome.status,
                outcome.response[:200],
            )
        else:
            self._transient(item, outcome.error, outcome.after_s)

    def _transient(self, item: OutboxItem, error: str, retry_after: float | None) -> None:
        self._failures += 1
        now = time.time()
        pause = 0.0
        if retry_after is not None:
            pause = retry_after
        elif self._failures >= PAUSE_AFTER_FAILURES:
            pause = self._backoff(self._failures - PAUSE_AFTER_FAILURES + 1)
        self._pause_until = now + pause
        wait = max(pause, self._backoff(item.attempts + 1))
        self.outbox.mark_retry(item.pk, error, now + wait)
        self._note_error(f"{item.message.message_id}: {error}")
        log.warning("delivery of %s failed (%s); retrying it in %.2f s", item.message.message_id, error, wait)

    def _backoff(self, failures: int) -> float:
        """Exponential in the number of failures, capped, with 'equal jitter' (50-100 %)."""
        base = min(self.platform.backoff_max_s, self.platform.backoff_initial_s * 2.0 ** min(failures - 1, 30))
        return base * (0.5 + 0.5 * self._rng.random())

    def _note_error(self, error: str) -> None:
        self._last_error = error
        self._last_error_at = time.time()

    def health(self) -> SenderHealth:
        running = self._thread is not None and self._thread.is_alive()
        return SenderHealth(
            state="stopped" if not running else ("retrying" if self._failures else "ok"),
            consecutive_failures=self._failures,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            last_success_at=self._last_success_at,
            delivered_since_start=self._delivered,
            outbox=self.outbox.stats(),
        )
