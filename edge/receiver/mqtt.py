"""The stand-in platform's MQTT consumer: case messages from a broker into the receiver store.

It subscribes with an MQTT 5 shared subscription (`$share/<group>/<prefix>/+/cases/+` and
`.../faults/+`), so several receivers split the messages between them, each message going
to one. Every receiver of a platform writes the same store, where a `message_id` is kept
once: a re-sent message (a box that never saw its PUBACK), wherever it lands, changes
nothing. A message is acknowledged (manual PUBACK) only after it is stored, so a receiver
that dies in between gets it again from its persistent session; the receiver also confirms
it to the box on `<prefix>/<worker>/acks`, which boxes with `confirm: platform` wait for. Box statuses
(`<prefix>/+/status`, retained) are subscribed by every receiver, not shared.

A payload that is not a valid case message is logged and acknowledged (it would never get
better); one the store cannot take now is left unacknowledged for the next session.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as paho
from pydantic import ValidationError

from edge.config.delivery import MqttConfig
from edge.delivery.mqtt import MqttConnection, mqtt_client
from edge.delivery.mqtt_wire import PayloadError, ack_payload, ack_topic, decode
from edge.receiver.app import Envelope, envelope_problem
from edge.receiver.store import ReceiverStore
from edge.receiver.verdicts import MqttVerdicts

log = logging.getLogger(__name__)

DEFAULT_GROUP = "edge-platform"


class MqttConsumer:
    """Consumes case messages and box statuses from the broker into `store`."""

    def __init__(
        self,
        store: ReceiverStore,
        mqtt: MqttConfig,
        client_id: str,
        *,
        group: str = DEFAULT_GROUP,
        env: Mapping[str, str],
    ) -> None:
        if mqtt.version != "5":
            raise ValueError("the receiver needs MQTT 5 (shared subscriptions)")
        self.store = store
        self.prefix = mqtt.topic_prefix
        self.group = group
        self.stored = 0
        self.duplicates = 0
        self.invalid = 0
        self.client_id = client_id
        self.subscribed = threading.Event()
        client = mqtt_client(mqtt, client_id, env, manual_ack=True)
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        # the platform operator's verdicts go to the boxes' command topics; their answers come back here
        self.verdicts = MqttVerdicts(client, mqtt.topic_prefix, f"{mqtt.topic_prefix}-platform/{client_id}/replies")
        self.connection = MqttConnection(
            client, mqtt, backoff_initial_s=0.2, backoff_max_s=5.0, on_connected=self._subscribe
        )
        self.client = client

    def start(self) -> None:
        self.connection.start()

    def stop(self) -> None:
        self.connection.stop()

    def _subscribe(self) -> None:
        shared = f"$share/{self.group}/{self.prefix}"
        self.client.subscribe(
            [
                (f"{shared}/+/cases/+", 1),
                (f"{shared}/+/faults/+", 1),
                (f"{self.prefix}/+/status", 1),
                (self.verdicts.reply_topic, 1),
            ]
        )

    def _on_subscribe(self, _c: paho.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        refused = [r.getName() for r in reasons if r.is_failure]
        if refused:
            log.error("mqtt: the broker refused subscriptions: %s", refused)
        else:
            self.subscribed.set()
            log.info("mqtt: subscribed as %s (shared group %s)", self.client_id, self.group)

    def _on_message(self, client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            if message.topic == self.verdicts.reply_topic:
                self.verdicts.on_reply(message)
            elif message.topic.endswith("/status"):
                self._box_status(message)
            else:
                self._case(message)
        except sqlite3.Error as exc:  # not acknowledged: the broker sends it again next session
            log.error("mqtt: cannot store the message on %s now: %s", message.topic, exc)
            return
        client.ack(message.mid, message.qos)

    def _box_status(self, message: paho.MQTTMessage) -> None:
        worker_id = message.topic.split("/")[-2]
        try:
            status = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.error("mqtt: box status of %s is not JSON", worker_id)
            return
        if isinstance(status, dict):
            self.store.save_box(worker_id, status)

    def _case(self, message: paho.MQTTMessage) -> None:
        try:
            decoded = decode(message.payload)
            envelope = Envelope.model_validate(decoded.envelope)
        except (PayloadError, ValidationError) as exc:
            self.invalid += 1
            log.error("mqtt: dropped an invalid message on %s: %s", message.topic, str(exc)[:300])
            return
        problem = envelope_problem(envelope, envelope.message_id)
        if problem:
            self.invalid += 1
            log.error("mqtt: dropped message on %s: %s", message.topic, problem)
            return
        _, created = self.store.save(envelope.model_dump(), decoded.pictures)
        worker_id = message.topic.split("/")[-3]
        self.client.publish(ack_topic(self.prefix, worker_id), ack_payload(envelope.message_id), qos=1)
        if created:
            self.stored += 1
        else:
            self.duplicates += 1
        log.info("mqtt: %s %s from %s", "stored" if created else "duplicate", envelope.message_id, message.topic)
