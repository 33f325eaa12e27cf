"""Verification over a real mosquitto: `edge run` answers a request on its command topic on the
request's reply topic with its correlation id (MQTT 5 properties, and the JSON fallback of 3.1.1),
and each answer also reaches the platform once as a message of the case."""

from __future__ import annotations

import json
import queue
import signal

import paho.mqtt.client as paho
from mqtt_support import Mosquitto, needs_mosquitto
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from test_fleet_mqtt import Box

from edge.delivery.mqtt_wire import ack_payload, ack_topic

pytestmark = needs_mosquitto
COMMANDS = "edge/box-v/commands"


class Inbox:
    """What the platform's clients receive, one queue per topic: nothing is skipped while waiting."""

    def __init__(self) -> None:
        self.queues: dict[str, queue.Queue] = {}

    def put(self, message: paho.MQTTMessage) -> None:
        self._queue(message.topic.rsplit("/", 1)[0]).put(message)

    def _queue(self, topic: str) -> queue.Queue:
        return self.queues.setdefault(topic, queue.Queue())

    def next(self, topic: str, timeout_s: float = 60) -> paho.MQTTMessage:
        """The next message on a topic (its parent topic, for the box's per-camera case topics)."""
        return self._queue(topic).get(timeout=timeout_s)


def platform_client(broker: Mosquitto, version: int, inbox: Inbox) -> paho.Client:
    """A platform's client; it confirms every case message it receives, as the platform contract asks
    of a platform whose boxes wait for the confirmation (`confirm: platform`, the default)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=version)

    def on_message(c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        inbox.put(message)
        if "/cases/" in message.topic:
            c.publish(ack_topic("edge", "box-v"), ack_payload(json.loads(message.payload)["message_id"]), qos=1)

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_verify_command_gets_its_reply_with_the_correlation_id(tmp_path):
    with Mosquitto(tmp_path / "broker") as broker:
        box = Box(tmp_path, "box-v", broker.url).start()
        inbox = Inbox()
        v5 = platform_client(broker, paho.MQTTv5, inbox)
        v311 = platform_client(broker, paho.MQTTv311, inbox)
        try:
            v5.subscribe([("edge/box-v/cases/#", 1), ("platform/replies/#", 1)])
            new = json.loads(inbox.next("edge/box-v/cases").payload)
            case_id = new["case_id"]

            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = "platform/replies/v5"
            props.CorrelationData = b"\x00corr-5"
            v5.publish(COMMANDS, json.dumps({"command": "verify", "case_id": case_id}), qos=1, properties=props)
            reply = inbox.next("platform/replies")
            assert reply.topic == "platform/replies/v5" and reply.properties.CorrelationData == b"\x00corr-5"
            answer = json.loads(reply.payload)
            assert answer["verdict"] == "still_present" and answer["picture"]["jpeg_base64"]
            assert answer["command"] == "verify" and answer["case_id"] == case_id

            request = {"command": "verify", "case_id": case_id, "reply_to": "platform/replies/311"}
            v311.publish(COMMANDS, json.dumps(request | {"correlation_id": "corr-311"}), qos=1)
            fallback_reply = inbox.next("platform/replies")
            assert fallback_reply.topic == "platform/replies/311"
            fallback = json.loads(fallback_reply.payload)
            assert fallback["correlation_id"] == "corr-311" and fallback["verdict"] == "still_present"
            assert fallback["seq"] == answer["seq"] + 1

            v5.publish(COMMANDS, json.dumps({"command": "verify", "case_id": "nope"}), qos=1, properties=props)
            assert json.loads(inbox.next("platform/replies").payload)["verdict"] == "unknown_case"
            v5.publish(COMMANDS, json.dumps({"command": "reboot"}), qos=1, properties=props)
            assert "unknown command" in json.loads(inbox.next("platform/replies").payload)["error"]

            checks = []
            while len(checks) < 2:
                body = json.loads(inbox.next("edge/box-v/cases").payload)["body"]
                if body["kind"] == "verification":
                    checks.append((body["seq"], body["verification"]["request_id"]))
            assert checks == [(answer["seq"], b"\x00corr-5".hex()), (fallback["seq"], b"corr-311".hex())]
        finally:
            for client in (v5, v311):
                client.loop_stop()
                client.disconnect()
            code = box.signal(signal.SIGTERM)
    assert code == 0, box.log.read_text()[-3000:]
    assert "Traceback" not in box.log.read_text()
