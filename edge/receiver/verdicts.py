"""The stand-in platform's operator sends a verdict on a case back to the box that reported it.

Over the broker when the receiver consumes one (the box's command topic `<prefix>/<worker>/commands`,
an MQTT 5 request with a Response Topic and Correlation Data, answered on this receiver's reply
topic), else over HTTP to the box's operator API (`--box-api URL`, its token from an environment
variable): `POST /api/cases/{case}/verdict`. The box's answer comes back as it is; the receiver keeps
the verdicts the box accepted, so its listing and case pages show them.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.delivery.mqtt_wire import command_topic

ANSWER_TIMEOUT_S = 15.0
ERROR_STATUS = {"unknown_case": 404, "other_box": 403, "conflict": 409, "not_stored": 503, "invalid": 422}


@dataclass(frozen=True, slots=True)
class BoxAnswer:
    """The box's answer: an HTTP-like status and its JSON (`detail` or `error` when refused)."""

    status: int
    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class VerdictChannel(Protocol):
    def send(self, worker_id: str, case_id: str, verdict: dict[str, Any]) -> BoxAnswer: ...


class HttpVerdicts:
    """Verdicts over the box's operator API (one box: the receiver's `--box-api`)."""

    def __init__(self, base_url: str, token: str | None, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout_s = timeout_s

    def send(self, worker_id: str, case_id: str, verdict: dict[str, Any]) -> BoxAnswer:
        url = f"{self.base_url}/api/cases/{quote(case_id, safe='')}/verdict"
        try:
            answer = httpx.post(
                url, json={**verdict, "worker_id": worker_id}, headers=self.headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            return BoxAnswer(502, {"detail": f"the box at {self.base_url} did not answer: {exc}"})
        try:
            body = answer.json()
        except ValueError:
            body = {"detail": answer.text[:300]}
        return BoxAnswer(answer.status_code, body if isinstance(body, dict) else {"detail": body})


class MqttVerdicts:
    """Verdicts as `verdict` commands on the boxes' command topics; replies come to `reply_topic`."""

    def __init__(self, client: paho.Client, prefix: str, reply_topic: str, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.client = client
        self.prefix = prefix
        self.reply_topic = reply_topic
        self.timeout_s = timeout_s
        self._waiting: dict[bytes, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def on_reply(self, message: paho.MQTTMessage) -> None:
        """A box's answer on the reply topic (the consumer hands it over)."""
        correlation = getattr(getattr(message, "properties", None), "CorrelationData", None)
        with self._lock:
            waiting = self._waiting.pop(correlation, None) if correlation is not None else None
        if waiting is None:
            return  # an answer nobody waits for any more
        try:
            answer = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            answer = {"code": "invalid", "error": "the box's answer is not JSON"}
        waiting.set_result(answer if isinstance(answer, dict) else {"code": "invalid", "error": "not a JSON object"})

    def send(self, worker_id: str, case_id: str, verdict: dict[str, Any]) -> BoxAnswer:
        correlation = uuid.uuid4().bytes
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._waiting[correlation] = future
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = correlation
        command = {**verdict, "command": "verdict", "case_id": case_id, "worker_id": worker_id}
        self.client.publish(command_topic(self.prefix, worker_id), json.dumps(command), qos=1, properties=props)
        try:
            answer = future.result(timeout=self.timeout_s)
        except TimeoutError:
            return BoxAnswer(504, {"detail": f"box {worker_id!r} did not answer within {self.timeout_s:g} s"})
        finally:
            with self._lock:
                self._waiting.pop(correlation, None)
        if "error" in answer:
            return BoxAnswer(ERROR_STATUS.get(str(answer.get("code")), 400), {"detail": answer["error"], **answer})
        return BoxAnswer(200, answer)
