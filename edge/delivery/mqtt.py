"""The box's MQTT connection: the client factory and the loop that keeps one session connected.

Client: paho-mqtt 2.x, the Eclipse Foundation's client: MQTT 3.1.1 and 5 in one package,
TLS through the standard `ssl` module, pure Python, no broker-specific code, maintained
(2.x added MQTT 5 reason codes on every acknowledgement, which the case sink reads).

Session: the worker id is the client id, with a persistent session (3.1.1: clean session
off; 5: clean start off and `session_expiry_s`), so the broker keeps what it holds for the
box while the box is away. A broker takes one connection per client id, so the case sink
(`edge.delivery.mqtt_sink`) and the fleet channel (`edge.delivery.fleet`: commands and status)
share this one; each says what to do on every connect (`when_connected`) and routes its own
topics (`client.message_callback_add`).

Connection: a thread of its own connects, runs the client's network loop, and on any loss
(broker down, wrong credentials, TLS failure) records why (`problem`, logged once per change,
returned in every `Retry`) and reconnects with backoff (`edge.backoff`), forever.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.backoff import backoff_delay
from edge.config import ConfigError
from edge.config.delivery import MqttConfig, PlatformConfig

log = logging.getLogger(__name__)


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
        """`on_connected` (and whatever `when_connected` adds) runs on the network thread after every
        successful connect: subscriptions, the box status."""
        self.client = client
        self.mqtt = mqtt
        self.where = f"{mqtt.host}:{mqtt.port}"
        self.connected = threading.Event()
        self.attempted = threading.Event()  # the first attempt has finished, one way or the other
        self.problem: str | None = "not connected yet"
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._on_connected = [on_connected]
        self._answered = False  # a CONNACK came on the current connection
        self._accepted = False  # ... and it accepted the session
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{mqtt.host}", daemon=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    @classmethod
    def for_box(cls, platform: PlatformConfig, worker_id: str, env: Mapping[str, str]) -> MqttConnection:
        """The box's one session with the broker (client id: the worker id), not yet connected."""
        client = mqtt_client(platform.mqtt, worker_id, env)
        return cls(
            client, platform.mqtt, backoff_initial_s=platform.backoff_initial_s, backoff_max_s=platform.backoff_max_s
        )

    def when_connected(self, callback: Callable[[], None]) -> None:
        """Run `callback` after every successful connect too (add them before `start`)."""
        self._on_connected.append(callback)

    def start(self) -> None:
        """Connect in the background; idempotent (the sink and the fleet channel both start it)."""
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
        for callback in self._on_connected:
            callback()

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
            self._stop.wait(backoff_delay(failures, *self._backoff, self._rng))
