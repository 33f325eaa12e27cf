"""The MQTT case sink: case messages as QoS 1 publishes on the box's connection (`edge.delivery.mqtt`).

`deliver()` publishes a window of messages (each of a different case) at QoS 1 and waits for their
PUBACKs and, by default (`confirm: platform`), for the platform consumer's confirmation that it
stored each one; only then may a message leave the outbox (`Acked`). A PUBACK alone is not enough
by default: Mosquitto acknowledges before it saves, so a broker killed in between loses what it
acknowledged (docs/fleet.md, "Which confirmation"). No connection, no PUBACK or confirmation within
`platform.timeout_s`, or an MQTT 5 PUBACK saying "no matching subscribers" (nobody would ever get
it) are `Retry`; a PUBACK refusing the message for good (not authorized, topic invalid, too large)
is `Rejected`. A re-send is a new publish of the same `message_id`; the platform's consumer keeps
the first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from edge.config.delivery import PlatformConfig
from edge.delivery.mqtt import MqttConnection
from edge.delivery.mqtt_wire import ack_topic, acked_message_id, case_topic, encode
from edge.delivery.records import OutboxItem
from edge.delivery.sink import Acked, Outcome, Rejected, Retry

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
# PUBACK reason codes that refuse this message for good; any other failure is retried
PERMANENT_REASONS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorized, topic invalid, too large, bad format


@dataclass(frozen=True, slots=True)
class Flight:
    """A message published and not yet answered."""

    message_id: str
    topic: str
    info: paho.MQTTMessageInfo
    confirmed: threading.Event | None  # set by the platform's confirmation (`confirm: platform`)


class MqttSink:
    """Publishes case messages at QoS 1 and waits for their confirmation; see the module docstring."""

    kind = "mqtt"

    def __init__(
        self, platform: PlatformConfig, worker_id: str, connection: MqttConnection, *, owns_connection: bool
    ) -> None:
        """`owns_connection`: `close()` closes the connection too (nothing else uses it); the worker,
        whose fleet channel shares it, closes it itself after the channel's goodbye."""
        self.mqtt = platform.mqtt
        self.worker_id = worker_id
        self.timeout_s = platform.timeout_s
        self.window = self.mqtt.window
        self.connection = connection
        self._owns_connection = owns_connection
        self._reasons: dict[int, ReasonCode] = {}
        self.ack_topic = ack_topic(self.mqtt.topic_prefix, worker_id)
        self._confirmations: dict[str, threading.Event] = {}  # message ids waiting for the platform
        self._confirm_lock = threading.Lock()
        self.client.on_publish = self._on_publish
        if self.mqtt.confirm == "platform":
            self.client.message_callback_add(self.ack_topic, self._on_confirmation)
            connection.when_connected(self._subscribe_confirmations)
        else:
            log.warning(
                "platform.mqtt.confirm is puback: a message leaves the outbox on the broker's PUBACK, and a broker"
                " that acknowledges before it saves (Mosquitto) loses what it acknowledged if it crashes;"
                " the default, confirm: platform, waits for the platform's own confirmation (docs/fleet.md)"
            )

    @property
    def client(self) -> paho.Client:
        return self.connection.client

    def start(self) -> None:
        """Connect (in the background); idempotent."""
        self.connection.start()

    def close(self) -> None:
        if self._owns_connection:
            self.connection.stop()

    def deliver(self, items: Sequence[OutboxItem]) -> list[Outcome]:
        """Publish every item at QoS 1, then wait for each PUBACK (and, with `confirm: platform`, each
        confirmation) within one `timeout_s`: a window costs one round trip, not one per message."""
        self.start()
        if not self.connection.attempted.is_set():
            self.connection.attempted.wait(self.timeout_s)  # the first connect may still be under way
        if not self.connection.connected.is_set():
            return [Retry(f"not connected to {self.mqtt.url}: {self.connection.problem}") for _ in items]
        flights = [self._send(item) for item in items]
        deadline = time.monotonic() + self.timeout_s
        try:
            return [self._outcome(flight, deadline) for flight in flights]
        finally:
            with self._confirm_lock:
                for flight in flights:
                    if isinstance(flight, Flight):
                        self._confirmations.pop(flight.message_id, None)

    def _send(self, item: OutboxItem) -> Flight | Outcome:
        """Publish one message (without waiting); an outcome already when it cannot even be sent."""
        msg = item.message
        encoded = encode(msg, item.thinned, self.mqtt.max_payload_kb * 1024)
        if encoded is None:
            return Rejected(None, f"the message is larger than platform.mqtt.max_payload_kb={self.mqtt.max_payload_kb}")
        if len(encoded.thinned) > len(item.thinned):
            log.warning("%s: pictures %s left out to fit max_payload_kb", msg.message_id, encoded.thinned)
        topic = case_topic(self.mqtt.topic_prefix, self.worker_id, msg.body)
        confirmed = None
        if self.mqtt.confirm == "platform":
            confirmed = threading.Event()
            with self._confirm_lock:
                self._confirmations[msg.message_id] = confirmed
        info = self.client.publish(topic, encoded.payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            with self._confirm_lock:
                self._confirmations.pop(msg.message_id, None)
            return Retry(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        return Flight(msg.message_id, topic, info, confirmed)

    def _outcome(self, flight: Flight | Outcome, deadline: float) -> Outcome:
        """Wait (until `deadline`) for the PUBACK, whose MQTT 5 reason code decides, then for the confirmation."""
        if not isinstance(flight, Flight):
            return flight
        topic, info = flight.topic, flight.info
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            return Retry(f"publish to {topic} failed: {exc}")
        if not info.is_published():
            return Retry(f"no PUBACK from {self.connection.where} within {self.timeout_s:g} s")
        reason = self._reasons.pop(info.mid, None)
        if reason is not None and (reason.is_failure or reason.value == NO_MATCHING_SUBSCRIBERS):
            text = f"PUBACK {reason.getName()} (0x{reason.value:02x}) for {topic}"
            if reason.value == NO_MATCHING_SUBSCRIBERS:
                return Retry(f"{text}: no platform consumer is subscribed; kept until one is")
            if reason.value in PERMANENT_REASONS:
                return Rejected(reason.value, text)
            return Retry(text)
        if flight.confirmed is not None and not flight.confirmed.wait(max(0.0, deadline - time.monotonic())):
            return Retry(f"the broker took it, but no platform confirmation within {self.timeout_s:g} s")
        return Acked()

    def _subscribe_confirmations(self) -> None:
        self.client.subscribe(self.ack_topic, qos=1)

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self._reasons[mid] = reason  # read by deliver() once the message is marked published

    def _on_confirmation(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        message_id = acked_message_id(message.payload)
        with self._confirm_lock:
            waiting = self._confirmations.get(message_id) if message_id else None
        if waiting is not None:
            waiting.set()
