"""The MQTT sink: case messages as QoS 1 publishes, and the box's retained status.

Client: paho-mqtt 2.x, the Eclipse Foundation's client: MQTT 3.1.1 and 5 in one package,
TLS through the standard `ssl` module, pure Python, no broker-specific code, maintained
(2.x added MQTT 5 reason codes on every acknowledgement, which the sink reads).

Session: the worker id is the client id, with a persistent session (3.1.1: clean session
off; 5: clean start off and `session_expiry_s`), so the broker keeps what it holds for the
box while the box is away. Delivery: `deliver()` publishes a window of messages (each of a
different case) at QoS 1 and waits for their PUBACKs and, by default (`confirm: platform`), for
the platform consumer's confirmation that it stored each one; only then may a message leave the
outbox (`Acked`). A PUBACK alone is not enough by default: Mosquitto acknowledges before it saves,
so a broker killed in between loses what it acknowledged (docs/fleet.md, "Which confirmation").
No connection, no PUBACK or confirmation within `platform.timeout_s`, or an MQTT 5 PUBACK saying
"no matching subscribers" (nobody would ever get it) are `Retry`; a PUBACK refusing the message
for good (not authorized, topic invalid, too large) is `Rejected`. A re-send is a new publish of
the same `message_id`; the platform's consumer keeps the first.

Connection: a thread of the sink's own connects, runs the client's network loop, and on
any loss (broker down, wrong credentials, TLS failure) records why (`problem`, logged once
per change, returned in every `Retry`) and reconnects with backoff, forever.

Status: on every connect and every `status_interval_s`, a retained QoS 1 message on
`<prefix>/<worker>/status` with `online: true` and what the worker's status callable
reports; the Last Will (same topic, retained) says `online: false` if the box drops off
without a goodbye; `close()` says goodbye with `online: false, reason: stopped`.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import __version__
from edge.config import ConfigError
from edge.config.delivery import MqttConfig, PlatformConfig
from edge.delivery.mqtt_wire import ack_topic, acked_message_id, case_topic, command_topic, encode, status_topic
from edge.delivery.outbox import OutboxItem
from edge.delivery.sink import Acked, BoxStatus, CommandHandler, Outcome, Rejected, Retry
from edge.isotime import now_iso

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
# PUBACK reason codes that refuse this message for good; any other failure is retried
PERMANENT_REASONS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorized, topic invalid, too large, bad format
GOODBYE_WAIT_S = 2.0
COMMAND_THREADS = 4  # commands answered at once (each waits at most its own bound, e.g. verification.timeout_s)


class MqttSetupError(ConfigError):
    """The MQTT settings cannot work (a TLS file missing or unreadable); raised at start."""


def _describe(exc: BaseException, where: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the certificate of {where} is not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed ({exc.reason or exc}); is it a TLS listener?"
    if isinstance(exc, ConnectionRefusedError):
        return f"broker {where} refused the connection (not running, or wrong port)"
    if isinstance(exc, TimeoutError):
        return f"broker {where} did not answer (timeout)"
    return f"cannot reach broker {where}: {type(exc).__name__}: {exc}"


def mqtt_client(mqtt: MqttConfig, client_id: str, env: Mapping[str, str], *, manual_ack: bool = False) -> paho.Client:
    """A paho client for the configured broker: version, persistent session, credentials, TLS."""
    v5 = mqtt.version == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        clean_session=None if v5 else False,
        reconnect_on_failure=False,  # the sink reconnects itself, to see and report every failure
        manual_ack=manual_ack,
    )
    client.on_socket_open = no_delay
    username = env.get(mqtt.username_env)
    if username:
        client.username_pw_set(username, env.get(mqtt.password_env) or None)
    if mqtt.tls_on:
        tls = mqtt.tls
        problem = tls.problem()
        if problem:
            raise MqttSetupError(problem)
        try:
            client.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise MqttSetupError(f"platform.mqtt.tls: cannot load the TLS files: {exc}") from None
        client.tls_insecure_set(not tls.verify_hostname)
    return client


def no_delay(_client: paho.Client, _userdata: Any, sock: Any) -> None:
    """Small packets (PUBACKs, confirmations) go out at once instead of waiting on Nagle's algorithm."""
    if hasattr(sock, "setsockopt"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect_properties(mqtt: MqttConfig) -> Properties | None:
    if mqtt.version != "5":
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = mqtt.session_expiry_s
    return props


class MqttConnection:
    """Keeps one client connected in a thread of its own, remembering why it is not."""

    def __init__(
        self,
        client: paho.Client,
        mqtt: MqttConfig,
        *,
        backoff_initial_s: float,
        backoff_max_s: float,
        on_connected: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_connected` runs on the network thread after every successful connect (subscribe, status)."""
        self.client = client
        self.mqtt = mqtt
        self.where = f"{mqtt.host}:{mqtt.port}"
        self.connected = threading.Event()
        self.attempted = threading.Event()  # the first attempt has finished, one way or the other
        self.problem: str | None = "not connected yet"
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._on_connected = on_connected
        self._answered = False  # a CONNACK came on the current connection
        self._accepted = False  # ... and it accepted the session
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{mqtt.host}", daemon=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        if self._thread.is_alive():
            self._thread.join(10.0)

    def _note(self, problem: str | None) -> None:
        if problem != self.problem and problem is not None:
            log.error("mqtt: %s", problem)
        self.problem = problem

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._answered = True
        self.attempted.set()
        if reason.is_failure:
            self._note(f"broker {self.where} refused the session: {reason.getName()}")
            return
        log.info("mqtt: connected to %s", self.where)
        self.problem = None
        self._accepted = True
        self.connected.set()
        self._on_connected()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stop.is_set():
            self._note(f"lost the connection to {self.where}: {reason.getName()}")

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._answered = self._accepted = False
            try:
                self.client.connect(
                    self.mqtt.host,
                    self.mqtt.port,
                    keepalive=self.mqtt.keepalive_s,
                    clean_start=False if self.mqtt.version == "5" else paho.MQTT_CLEAN_START_FIRST_ONLY,
                    properties=connect_properties(self.mqtt),
                )
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                self._note(_describe(exc, self.where))
                self.attempted.set()
            else:
                self.client.loop_forever()  # returns when the connection ends
                if not self._answered and not self._stop.is_set():
                    self._note(
                        f"broker {self.where} closed the connection without answering the MQTT handshake"
                        " (a TLS listener reached without TLS? then use mqtts://)"
                    )
                    self.attempted.set()
            failures = 1 if self._accepted else failures + 1  # a session that ran starts the backoff afresh
            initial, cap = self._backoff
            self._stop.wait(min(cap, initial * 2.0 ** min(failures - 1, 30)) * (0.5 + 0.5 * self._rng.random()))


@dataclass(frozen=True, slots=True)
class Flight:
    """A message published and not yet answered."""

    message_id: str
    topic: str
    info: paho.MQTTMessageInfo
    confirmed: threading.Event | None  # set by the platform's confirmation (`confirm: platform`)


class MqttSink:
    """Publishes case messages at QoS 1 and the box status; see the module docstring."""

    kind = "mqtt"

    def __init__(
        self,
        platform: PlatformConfig,
        worker_id: str,
        *,
        env: Mapping[str, str],
        status: BoxStatus | None = None,
        commands: CommandHandler | None = None,
    ) -> None:
        """`commands`: answers requests on `<prefix>/<worker>/commands` (none: the box does not subscribe)."""
        self.mqtt = platform.mqtt
        self.worker_id = worker_id
        self.timeout_s = platform.timeout_s
        self.window = self.mqtt.window
        self.status_topic = status_topic(self.mqtt.topic_prefix, worker_id)
        self._status = status or dict
        self._reasons: dict[int, ReasonCode] = {}
        self.ack_topic = ack_topic(self.mqtt.topic_prefix, worker_id)
        self._confirmations: dict[str, threading.Event] = {}  # message ids waiting for the platform
        self._confirm_lock = threading.Lock()
        client = mqtt_client(self.mqtt, worker_id, env)
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self.command_topic = command_topic(self.mqtt.topic_prefix, worker_id)
        self._commands = commands
        self._command_pool = ThreadPoolExecutor(COMMAND_THREADS, thread_name_prefix="mqtt-command")
        client.will_set(self.status_topic, self._status_payload(False, "connection lost (last will)"), 1, retain=True)
        self.connection = MqttConnection(
            client,
            self.mqtt,
            backoff_initial_s=platform.backoff_initial_s,
            backoff_max_s=platform.backoff_max_s,
            on_connected=self._on_connected,
        )
        self._stop = threading.Event()
        self._status_thread = threading.Thread(target=self._status_loop, name="mqtt-status", daemon=True)
        if self.mqtt.confirm == "puback":
            log.warning(
                "platform.mqtt.confirm is puback: a message leaves the outbox on the broker's PUBACK, and a broker"
                " that acknowledges before it saves (Mosquitto) loses what it acknowledged if it crashes;"
                " the default, confirm: platform, waits for the platform's own confirmation (docs/fleet.md)"
            )

    def start(self) -> None:
        """Connect (in the background) and keep the status fresh; idempotent."""
        self.connection.start()
        if not self._status_thread.is_alive() and not self._stop.is_set():
            self._status_thread.start()

    @property
    def client(self) -> paho.Client:
        return self.connection.client

    # -- delivery ---------------------------------------------------------------------------

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

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self._reasons[mid] = reason  # read by deliver() once the message is marked published

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if message.topic == self.command_topic:
            self._command_pool.submit(self._answer, message)
        else:
            self._on_confirmation(message)

    def _on_confirmation(self, message: paho.MQTTMessage) -> None:
        message_id = acked_message_id(message.payload)
        with self._confirm_lock:
            waiting = self._confirmations.get(message_id) if message_id else None
        if waiting is not None:
            waiting.set()

    def _on_connected(self) -> None:
        if self.mqtt.confirm == "platform":
            self.client.subscribe(self.ack_topic, qos=1)
        if self._commands is not None:
            self.client.subscribe(self.command_topic, qos=1)
        self.publish_status()

    # -- commands ---------------------------------------------------------------------------

    def _answer(self, message: paho.MQTTMessage) -> None:
        """Answer one request on its reply topic, echoing its correlation id (docs/fleet.md, "Commands").

        MQTT 5: the Response Topic and Correlation Data properties; 3.1.1 (no properties): the JSON
        fields `reply_to` and `correlation_id`. A request without a reply topic is answered nowhere."""
        assert self._commands is not None
        props = getattr(message, "properties", None)
        reply_to = getattr(props, "ResponseTopic", None)
        correlation = getattr(props, "CorrelationData", None)
        try:
            request = json.loads(message.payload)
            if not isinstance(request, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as exc:
            request, problem = {}, f"not a JSON command: {exc}"
        else:
            problem = None
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

    def close(self) -> None:
        """Say goodbye (retained offline status), then disconnect cleanly (no Last Will)."""
        self._stop.set()
        if self.connection.connected.is_set():
            info = self.client.publish(self.status_topic, self._status_payload(False, "stopped"), qos=1, retain=True)
            try:
                info.wait_for_publish(GOODBYE_WAIT_S)
            except (RuntimeError, ValueError):
                log.warning("mqtt: the offline status could not be published")
        self._command_pool.shutdown(wait=False, cancel_futures=True)
        self.connection.stop()
        if self._status_thread.is_alive():
            self._status_thread.join(5.0)
