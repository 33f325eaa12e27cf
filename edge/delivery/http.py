"""The HTTP sink: one multipart POST per message (format in `edge.delivery.wire`).

Answers and httpx's exceptions (TransportError = ConnectError | TimeoutException |
NetworkError | ProtocolError ..., all raised before any answer arrives) map to outcomes:

    2xx                                  -> Acked
    TransportError, 5xx, 408/409/425/429 -> Retry (with the answer's Retry-After, if any)
    any other status (4xx, 3xx)          -> Rejected, with the response text
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence

import httpx

from edge.config.delivery import PlatformConfig
from edge.delivery.outbox import OutboxItem
from edge.delivery.sink import Acked, Outcome, Rejected, Retry
from edge.delivery.wire import build_request

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
MAX_RETRY_AFTER_S = 3600.0  # a broken Retry-After must not park the sender for days
RESPONSE_KEEP_CHARS = 4000


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


class HttpSink:
    """POSTs messages to `platform.url` with the token and HMAC secret the config names."""

    kind = "http"
    window = 1  # one POST at a time: a platform that has just come back never gets a burst

    def __init__(
        self, platform: PlatformConfig, *, env: Mapping[str, str], transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = platform.url
        self._token = env.get(platform.token_env) or None
        secret = env.get(platform.hmac_secret_env)
        self._secret = secret.encode() if secret else None
        self._client = httpx.Client(transport=transport, timeout=platform.timeout_s)

    def start(self) -> None:
        """Nothing to open: httpx connects on the first request."""

    def deliver(self, items: Sequence[OutboxItem]) -> list[Outcome]:
        return [self._post(item) for item in items]

    def _post(self, item: OutboxItem) -> Outcome:
        msg = item.message
        request = build_request(
            self.url, msg, msg.pictures, item.thinned, token=self._token, hmac_secret=self._secret, now=time.time()
        )
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            return Retry(f"{type(exc).__name__}: {exc or 'no detail'}")
        status = response.status_code
        if 200 <= status < 300:
            return Acked()
        if is_transient(status):
            return Retry(
                f"HTTP {status}: {response.text[:200]}", retry_after_s(response.headers.get("Retry-After"), time.time())
            )
        return Rejected(status, response.text[:RESPONSE_KEEP_CHARS])

    def close(self) -> None:
        self._client.close()
