"""The sender: drains the outbox through a sink (HTTP or MQTT), one message at a time, in order per case.

The sink delivers and reports an outcome (`edge.delivery.sink`); the sender decides what
happens next, the same for every kind of sink:

    Acked     -> delivered
    Retry     -> transient: retry forever with backoff
    Rejected  -> permanent: dead letter with the platform's answer

A failed message waits its own exponential backoff (with jitter) before its next try,
and its case waits with it; other cases go on at once, so one message the platform keeps
failing on cannot hold everything up. From the third failure in a row, or whenever the
answer carries a wait hint (`Retry-After`), the platform counts as down: the whole sender
pauses (no point hammering it with the next message) and then probes it with one message,
the first in line whatever its own backoff says, at most `probe_interval_s` apart (a wait
hint is honoured in full). The first answer after such an outage wakes every waiting
message, so a backlog drains at the platform's pace instead of each message sleeping out its
own backoff. One message is in flight at a time: the wake-up never bursts more than that at
a platform that has just come back. Scattered failures of a flaky platform rarely come three
in a row, so they cost little throughput.

Every message carries its `message_id`, the platform's idempotency key; a message that was
stored by the platform but whose acknowledgement was lost is simply sent again. An
acknowledgement that cannot be written (disk full, even after the outbox gave up its
reserve) is kept in memory and written as soon as it can: the message counts as delivered
meanwhile, so this process never sends it again.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from edge.backoff import backoff_delay
from edge.config.delivery import PlatformConfig
from edge.delivery.outbox import Outbox, OutboxError, OutboxItem, OutboxStats
from edge.delivery.platform import open_sink
from edge.delivery.sink import Acked, Rejected, Retry, Sink
from edge.heartbeat import Heartbeat, run_beating

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0  # picks up re-queues made by another process (the `edge outbox` CLI)
PAUSE_AFTER_FAILURES = 3  # failures in a row that mean "the platform is down", not "this message"
ACK_RETRY_S = 0.5  # how often `deliver_pending` tries an acknowledgement held in memory again


@dataclass(frozen=True, slots=True)
class SenderHealth:
    """What an operator needs to know about delivery at a glance."""

    state: Literal["stopped", "ok", "retrying"]
    consecutive_failures: int
    last_error: str | None
    last_error_at: float | None
    last_success_at: float | None
    delivered_since_start: int
    unsaved_acks: int  # acknowledged by the platform, not yet recorded on disk (full disk)
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
        """`sink`: from `edge.delivery.platform.open_sink()`; without one, the HTTP sink of `platform`
        (MQTT needs the worker id)."""
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
        self.heartbeat = Heartbeat("edge-sender")  # the worker's supervisor watches it (edge/runtime/supervisor.py)
        self._pause_until = 0.0
        self._failures = 0
        self._outage = False  # the platform counts as down: probe it, wake everything when it answers
        self._acked: dict[int, str] = {}  # outbox pk -> message id, acknowledged but not yet on disk
        self._delivered = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_success_at: float | None = None
        try:
            outbox.retry_all_now()
        except OutboxError as exc:  # a full disk must not stop the worker from starting
            log.error("pending messages keep their backoff: %s", exc)

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self.sink.start()
        self._thread = threading.Thread(
            target=run_beating, args=(self.heartbeat, self._run), name="edge-sender", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the thread after the message in flight; the sink stays usable."""
        self._stop.set()
        self.outbox.changed.set()
        if self._thread:
            self._thread.join(timeout_s if timeout_s is not None else self.platform.timeout_s + 5)
            self._thread = None

    def close(self) -> None:
        """Stop the thread, record what the platform acknowledged, close the sink's connections (every
        sender is closed, or its sockets leak). An acknowledgement that still cannot be written (a full
        disk) is named by message id: that message goes again after a restart, and the platform, which
        keeps one per message id, stores it once."""
        self.stop()
        self._save_acks()
        if self._acked:
            log.error(
                "acknowledged by the platform but not recorded (disk full): sent again after a restart",
                extra={"message_ids": sorted(self._acked.values())},
            )
        self.sink.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.heartbeat.beat()
            if self._thread is not threading.current_thread():  # replaced (stop, start) while wedged
                return
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
        self.sink.start()
        while True:
            wait = self._step()
            left = deadline - time.monotonic()
            if (wait is None and not self._acked) or left <= 0:
                break
            wait = ACK_RETRY_S if wait is None else wait
            if wait > 0:
                time.sleep(min(wait, left))
        return self._delivered - start

    def _step(self) -> float | None:
        """Try one message. Returns seconds until another try makes sense, None when nothing waits."""
        self._save_acks()
        now = time.time()
        if now < self._pause_until:
            return self._pause_until - now
        # during an outage the next try is one probe: the first in line, whatever its own backoff says
        if self._outage:
            items = self.outbox.next_ready_batch(math.inf, self._acked.keys(), 1)
        else:
            items = self.outbox.next_ready_batch(now, self._acked.keys(), self.sink.window)
        if not items:
            due = self.outbox.next_attempt_time(self._acked.keys())
            return None if due is None else max(0.0, due - now)
        self._attempt(items)
        return max(0.0, self._pause_until - time.time())

    def _save_acks(self) -> None:
        """Write the acknowledgements a full disk kept in memory, all in one transaction."""
        if not self._acked:
            return
        try:
            self.outbox.mark_delivered(*self._acked)
        except OutboxError:
            return
        log.info("recorded %d acknowledgement(s) held in memory while the disk was full", len(self._acked))
        self._acked.clear()

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(self, items: list[OutboxItem]) -> None:
        outcomes = self.sink.deliver(items)
        acked = [item for item, outcome in zip(items, outcomes, strict=True) if isinstance(outcome, Acked)]
        if acked:
            self._delivered += len(acked)
            self._last_success_at = time.time()
            self._record_acks(acked)
        for item, outcome in zip(items, outcomes, strict=True):
            msg = item.message
            if isinstance(outcome, Rejected):
                self.outbox.mark_dead(item.pk, self.sink.kind, outcome.status, outcome.response)
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
            elif isinstance(outcome, Retry):
                self._transient(item, outcome.error, outcome.after_s)
        if any(not isinstance(outcome, Retry) for outcome in outcomes):
            self._answered()  # the platform answered (a rejection too): it is up

    def _record_acks(self, acked: list[OutboxItem]) -> None:
        """One transaction for the window's acknowledgements; kept in memory when the disk refuses it."""
        try:
            self.outbox.mark_delivered(*(item.pk for item in acked))
        except OutboxError as exc:
            for item in acked:
                self._acked[item.pk] = item.message.message_id
            ids = ", ".join(item.message.message_id for item in acked)
            self._note_error(f"{ids} acknowledged, kept in memory: {exc}")
            log.error("%s acknowledged; kept in memory until it can be recorded: %s", ids, exc)

    def _answered(self) -> None:
        """The platform answered: after an outage, every waiting message is due at once."""
        self._failures = 0
        if not self._outage:
            return
        self._outage = False
        try:
            woken = self.outbox.retry_all_now()
        except OutboxError as exc:
            log.error("platform reachable again, but waiting messages keep their backoff: %s", exc)
            return
        log.info("platform reachable again: %d waiting message(s) due now", woken)

    def _transient(self, item: OutboxItem, error: str, retry_after: float | None) -> None:
        self._failures += 1
        now = time.time()
        pause = 0.0
        if retry_after is not None:
            pause = retry_after
            self._outage = True
        elif self._failures >= PAUSE_AFTER_FAILURES:
            pause = min(self._backoff(self._failures - PAUSE_AFTER_FAILURES + 1), self.platform.probe_interval_s)
            self._outage = True
        self._pause_until = now + pause
        wait = max(pause, self._backoff(item.attempts + 1))
        try:
            self.outbox.mark_retry(item.pk, error, now + wait)
        except OutboxError as exc:  # its backoff cannot be stored: the whole sender waits it out instead
            log.error("cannot record the retry of %s: %s", item.message.message_id, exc)
            self._pause_until = max(self._pause_until, now + wait)
        self._note_error(f"{item.message.message_id}: {error}")
        log.warning("delivery of %s failed (%s); retrying it in %.2f s", item.message.message_id, error, wait)

    def _backoff(self, failures: int) -> float:
        """Exponential in the number of failures, capped, with 'equal jitter' (50-100 %)."""
        return backoff_delay(failures, self.platform.backoff_initial_s, self.platform.backoff_max_s, self._rng)

    def _note_error(self, error: str) -> None:
        self._last_error = error
        self._last_error_at = time.time()

    def health(self) -> SenderHealth:
        running = self.is_alive()
        return SenderHealth(
            state="stopped" if not running else ("retrying" if self._failures else "ok"),
            consecutive_failures=self._failures,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            last_success_at=self._last_success_at,
            delivered_since_start=self._delivered,
            unsaved_acks=len(self._acked),
            outbox=self.outbox.stats(),
        )
