"""The sink protocol: what the sender needs from a way of reaching the platform.

The sender owns the outbox side (order per case, backoff, pauses, dead letters, health);
a sink delivers the messages it is given (at most its `window`, each of a different case, so
order per case holds) and says how each went, as one of three outcomes:

    Acked      the platform (HTTP 2xx) or broker (MQTT PUBACK) took responsibility: delivered
    Retry      nothing was confirmed (no connection, timeout, 5xx, ...): try again later
    Rejected   the platform refused this message for good: dead letter

A sink with a round trip much longer than its sending time (MQTT with `confirm: platform`: broker,
consumer, its database, the confirmation back) takes a window of messages at once, so throughput
is not one round trip per message; HTTP posts one at a time (`window = 1`).

A new kind of sink is one module with a class that has `window`, `start()`, `deliver()` and `close()`,
and one entry in `edge.delivery.platform.open_sink()`. This module is the protocol only: it imports
no sink, so every sink can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.delivery.records import OutboxItem


@dataclass(frozen=True, slots=True)
class Acked:
    """Delivered: the message may leave the outbox."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Not confirmed; `after_s` is the platform's own wait hint (HTTP Retry-After), if any."""

    error: str
    after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Refused for good; `status` is the platform's code (HTTP status or MQTT reason code)."""

    status: int | None
    response: str


Outcome = Acked | Retry | Rejected


class Sink(Protocol):
    """One way of reaching the platform; `deliver` blocks until every outcome is known.

    `start()` (idempotent) is where a sink may open connections or threads: building one
    must not touch the network, so a worker that fails to start has said nothing."""

    kind: str
    window: int  # most messages `deliver` takes at once (the sender gives each of a different case)

    def start(self) -> None: ...

    def deliver(self, items: Sequence[OutboxItem]) -> list[Outcome]:
        """One outcome per item, in the same order."""
        ...

    def close(self) -> None: ...
