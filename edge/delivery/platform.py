"""How a box reaches its platform: the sink `platform.kind` names and, over MQTT, the box's one
broker connection and its fleet channel. The worker wires them:

    connection = open_connection(platform, worker_id)                  # MQTT: one session; HTTP: None
    sink = open_sink(platform, worker_id, connection=connection)       # case messages (edge.delivery.sink)
    fleet = open_fleet(connection, worker_id, status=..., commands=...)  # MQTT: commands in, status out

Nothing here touches the network: the sink, the fleet channel and the connection start when told.
The MQTT modules are loaded late, so an HTTP-only box never loads the MQTT client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from edge.config.delivery import PlatformConfig
from edge.delivery.fleet import BoxStatus, CommandHandler
from edge.delivery.sink import Sink

if TYPE_CHECKING:
    from edge.delivery.mqtt import MqttConnection
    from edge.delivery.mqtt_fleet import FleetChannel


def open_connection(
    platform: PlatformConfig, worker_id: str, env: Mapping[str, str] | None = None
) -> MqttConnection | None:
    """The box's broker session (client id: the worker id) for an MQTT platform; None for HTTP."""
    if platform.kind != "mqtt":
        return None
    from edge.delivery.mqtt import MqttConnection

    return MqttConnection.for_box(platform, worker_id, os.environ if env is None else env)


def open_sink(
    platform: PlatformConfig,
    worker_id: str,
    *,
    env: Mapping[str, str] | None = None,
    connection: MqttConnection | None = None,
) -> Sink:
    """The sink `platform.kind` names. An MQTT sink uses `connection` (shared with the fleet channel,
    closed by whoever opened it), or opens one of its own that its `close()` closes."""
    env = os.environ if env is None else env
    if platform.kind == "mqtt":
        from edge.delivery.mqtt import MqttConnection
        from edge.delivery.mqtt_sink import MqttSink

        owned = connection is None
        connection = connection or MqttConnection.for_box(platform, worker_id, env)
        return MqttSink(platform, worker_id, connection, owns_connection=owned)
    from edge.delivery.http import HttpSink

    return HttpSink(platform, env=env)


def open_fleet(
    connection: MqttConnection | None,
    worker_id: str,
    *,
    status: BoxStatus | None = None,
    commands: CommandHandler | None = None,
) -> FleetChannel | None:
    """The fleet channel on the box's connection; None without one (HTTP has no channel to the box)."""
    if connection is None:
        return None
    from edge.delivery.mqtt_fleet import FleetChannel

    return FleetChannel(connection, worker_id, status=status, commands=commands)
