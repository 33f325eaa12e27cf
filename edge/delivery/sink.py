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
and one entry in `open_sink()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.config.delivery import PlatformConfig
from edge.delivery.outbox import OutboxItem

BoxStatus = Callable[[], dict[str, Any]]  # what a box reports about itself (sinks that publish status)
CommandHandler = Callable[[dict[str, Any]], dict[str, Any]]  # a request's JSON -> its answer (may block, bounded)


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


def open_sink(
    platform: PlatformConfig,
    worker_id: str,
    *,
    env: Mapping[str, str] | None = None,
    status: BoxStatus | None = None,
    commands: CommandHandler | None = None,
) -> Sink:
    """The sink `platform.kind` names. `status` feeds the box-status message of sinks that have one;
    `commands` answers the requests that arrive on a sink with a command channel (MQTT)."""
    env = os.environ if env is None else env
    if platform.kind == "mqtt":
        from edge.delivery.mqtt import MqttSink  # late: HTTP-only boxes never load the MQTT client

        return MqttSink(platform, worker_id, env=env, status=status, commands=commands)
    from edge.delivery.http import HttpSink

    return HttpSink(platform, env=env)
