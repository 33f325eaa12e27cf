"""The MQTT fleet channel: the platform's commands to the box, and the box's retained status, over MQTT.

It shares the box's connection (`edge.delivery.mqtt`) with the case sink: one client id, one session.

Commands: requests on `<prefix>/<worker>/commands` (verification, verdicts) are answered on their
reply topic, a few at once, each within its own bound (docs/fleet.md, "Commands").

Status: on every connect and every `status_interval_s`, a retained QoS 1 message on
`<prefix>/<worker>/status` with `online: true` and what the box's `BoxStatus` reports; the Last
Will (same topic, retained) says `online: false` if the box drops off without a goodbye;
`close()` says goodbye with `online: false, reason: stopped`.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge import __version__
from edge.delivery.fleet import BoxStatus, CommandHandler
from edge.delivery.mqtt import MqttConnection
from edge.delivery.mqtt_wire import command_topic, status_topic
from edge.isotime import now_iso

log = logging.getLogger(__name__)

GOODBYE_WAIT_S = 2.0
COMMAND_THREADS = 4  # commands answered at once (each waits at most its own bound, e.g. verification.timeout_s)


class FleetChannel:
    """Answers the platform's commands and keeps the box's retained status fresh; see the module docstring."""

    def __init__(
        self,
        connection: MqttConnection,
        worker_id: str,
        *,
        status: BoxStatus | None = None,
        commands: CommandHandler | None = None,
    ) -> None:
        """Build it before the connection starts (the Last Will goes with the connect).
        `commands`: answers requests on `<prefix>/<worker>/commands` (none: the box does not subscribe)."""
        self.connection = connection
        self.mqtt = connection.mqtt
        self.worker_id = worker_id
        self.status_topic = status_topic(self.mqtt.topic_prefix, worker_id)
        self.command_topic = command_topic(self.mqtt.topic_prefix, worker_id)
        self._status: BoxStatus = status or dict
        self._commands = commands
        self._command_pool = ThreadPoolExecutor(COMMAND_THREADS, thread_name_prefix="mqtt-command")
        self._stop = threading.Event()
        self._status_thread = threading.Thread(target=self._status_loop, name="mqtt-status", daemon=True)
        client = connection.client
        client.will_set(self.status_topic, self._status_payload(False, "connection lost (last will)"), 1, retain=True)
        if commands is not None:
            client.message_callback_add(self.command_topic, self._on_command)
        connection.when_connected(self._on_connected)

    @property
    def client(self) -> paho.Client:
        return self.connection.client

    def start(self) -> None:
        """Connect (in the background) and keep the status fresh; idempotent."""
        self.connection.start()
        if not self._status_thread.is_alive() and not self._stop.is_set():
            self._status_thread.start()

    def close(self) -> None:
        """Say goodbye (retained offline status); the connection's owner then disconnects (no Last Will)."""
        self._stop.set()
        if self.connection.connected.is_set():
            info = self.client.publish(self.status_topic, self._status_payload(False, "stopped"), qos=1, retain=True)
            try:
                info.wait_for_publish(GOODBYE_WAIT_S)
            except (RuntimeError, ValueError):
                log.warning("mqtt: the offline status could not be published")
        self._command_pool.shutdown(wait=False, cancel_futures=True)
        if self._status_thread.is_alive():
            self._status_thread.join(5.0)

    def _on_connected(self) -> None:
        if self._commands is not None:
            self.client.subscribe(self.command_topic, qos=1)
        self.publish_status()

    # -- commands ---------------------------------------------------------------------------

    def _on_command(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._command_pool.submit(self._answer, message)

    def _answer(self, message: paho.MQTTMessage) -> None:
        """Answer one request on its reply topic, echoing its correlation id (docs/fleet.md, "Commands").

        MQTT 5: the Response Topic and Correlation Data properties; 3.1.1 (no properties): the JSON
        fields `reply_to` and `correlation_id`. A request without a reply topic is answered nowhere."""
        assert self._commands is not None
        props = getattr(message, "properties", None)
        reply_to = getattr(props, "ResponseTopic", None)
        correlation = getattr(props, "CorrelationData", None)
        problem: str | None = None
        try:
            request = json.loads(message.payload)
            if not isinstance(request, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as exc:
            request, problem = {}, f"not a JSON command: {exc}"
        reply_to = reply_to or request.get("reply_to")
        if correlation is None and isinstance(request.get("correlation_id"), str):
            correlation = request["correlation_id"].encode()
        if not isinstance(reply_to, str) or not reply_to or "+" in reply_to or "#" in reply_to:
            log.warning("mqtt: a command without a usable reply topic was ignored", extra={"reply_to": reply_to})
            return
        if correlation is not None and "request_id" not in request:
            request["request_id"] = correlation.hex()  # a re-sent command (QoS 1) gets the same answer
        try:
            answer = {"error": problem} if problem else self._commands(request)
        except Exception as exc:  # an answer must always come back: the platform waits on it
            log.exception("mqtt: command failed")
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        if correlation is not None:
            answer["correlation_id"] = correlation.decode("utf-8", "replace")
        payload = json.dumps(answer, ensure_ascii=False).encode()
        reply_props = None
        if self.mqtt.version == "5" and correlation is not None:
            reply_props = Properties(PacketTypes.PUBLISH)
            reply_props.CorrelationData = correlation
        self.client.publish(reply_to, payload, qos=1, properties=reply_props)

    # -- box status -------------------------------------------------------------------------

    def _status_payload(self, online: bool, reason: str) -> bytes:
        status: dict[str, Any] = {"worker_id": self.worker_id, "online": online, "reason": reason}
        if online:
            try:
                status.update(self._status())
            except Exception as exc:  # a status problem must never stop the box from saying it lives
                log.exception("box status failed")
                status["status_error"] = f"{type(exc).__name__}: {exc}"
        status.setdefault("software_version", __version__)
        status["at"] = now_iso(millis=False)
        return json.dumps(status, ensure_ascii=False, default=str).encode()

    def publish_status(self) -> None:
        if self.connection.connected.is_set():
            self.client.publish(self.status_topic, self._status_payload(True, "running"), qos=1, retain=True)

    def _status_loop(self) -> None:
        while not self._stop.wait(self.mqtt.status_interval_s):
            self.publish_status()
