"""The sender: drains the outbox to the platform, one request at a time, in order per case.

Failure classes (httpx's exceptions: TransportError = ConnectError | TimeoutException |
NetworkError | ProtocolError ..., all raised before any answer arrives):

    2xx                               -> delivered
    TransportError, 5xx, 408/409/425/429 -> transient: retry forever with backoff
    any other status (4xx, 3xx)       -> permanent: dead letter with the response

A failed message waits its own exponential backoff (with jitter) before its next try,
and its case waits with it; other cases go on at once, so one message the platform keeps
failing on cannot hold everything up. From the third failure in a row, or whenever the
answer carries `Retry-After`, the whole sender pauses as well (the platform itself is down
or struggling: no point hammering it with the next message). Scattered failures of a flaky
platform rarely come three in a row, so they cost little throughput. Every request carries `Idempotency-Key`; a message
that was stored by the platform but whose answer was lost is simply sent again.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from edge.config.delivery import PlatformConfig
from edge.delivery.outbox import Outbox, OutboxItem, OutboxStats
from edge.delivery.wire import build_request

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
MAX_RETRY_AFTER_S = 3600.0  # a broken Retry-After must not park the sender for days
IDLE_POLL_S = 1.0  # picks up re-queues made by another process (the `edge outbox` CLI)
RESPONSE_KEEP_CHARS = 4000
PAUSE_AFTER_FAILURES = 3  # failures in a row that mean "the platform is down", not "this message"


def is_transient(status: int) -> bool:
    return status >= 500 or status in TRANSIENT_STATUSES


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when - now), MAX_RETRY_AFTER_S)


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
    """Delivers outbox messages to `platform.url`, in a background thread or on demand."""

    def __init__(
        self,
        outbox: Outbox,
        platform: PlatformConfig,
        transport: httpx.BaseTransport | None = None,
        *,
        env: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.outbox = outbox
        self.platform = platform
        self._token = env.get(platform.token_env) or None
        secret = env.get(platform.hmac_secret_env)
        self._secret = secret.encode() if secret else None
        self._client = httpx.Client(transport=transport, timeout=platform.timeout_s)
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
        """Stop the thread after the request in flight; the HTTP client stays usable."""
        self._stop.set()
        self.outbox.changed.set()
        if self._thread:
            self._thread.join(timeout_s if timeout_s is not None else self.platform.timeout_s + 5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._client.close()

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
        request = build_request(
            self.platform.url,
            msg,
            msg.pictures,
            item.thinned,
            token=self._token,
            hmac_secret=self._secret,
            now=time.time(),
        )
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            self._transient(item, f"{type(exc).__name__}: {exc or 'no detail'}", None)
            return
        status = response.status_code
        if 200 <= status < 300:
            self.outbox.mark_delivered(item.pk)
            self._failures = 0
            self._delivered += 1
            self._last_success_at = time.time()
        elif is_transient(status):
            wait = retry_after_s(response.headers.get("Retry-After"), time.time())
            self._transient(item, f"HTTP {status}: {response.text[:200]}", wait)
        else:
            text = response.text[:RESPONSE_KEEP_CHARS]
            self.outbox.mark_dead(item.pk, status, text)
            self._failures = 0  # the platform answered; it is up
            self._note_error(f"{msg.message_id} dead-lettered: HTTP {status}: {text[:200]}")
            log.error("case message %s rejected with HTTP %d: %s", msg.message_id, status, text[:200])

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
