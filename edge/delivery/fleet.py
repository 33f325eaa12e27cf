"""What the fleet channel needs from the box: its status, and the answers to the platform's commands.

The worker provides both (`edge.runtime.box_status`, `edge.runtime.verifier`); the MQTT fleet
channel (`edge.delivery.mqtt_fleet`) carries them. This module loads no MQTT client, so the
worker names these types on an HTTP-only box too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

CommandHandler = Callable[[dict[str, Any]], dict[str, Any]]  # a request's JSON -> its answer (may block, bounded)


class BoxStatus(Protocol):
    """What a box reports about itself in its retained status message; cheap, as it is asked every
    `status_interval_s` (the worker's: `edge.runtime.box_status.WorkerStatus`)."""

    def __call__(self) -> dict[str, Any]: ...
