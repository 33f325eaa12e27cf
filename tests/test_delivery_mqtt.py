"""The MQTT sink and the receiver's MQTT consumer against a real Mosquitto broker, in one process.

Outbox + Sender + MqttSink on one side, MqttConsumer + ReceiverStore on the other; every
message stored once by message_id with its evidence pictures intact (sha256).
"""

from __future__ import annotations

import hashlib
import json
import threading

import cv2
import paho.mqtt.client as paho
import pytest
from mqtt_support import Mosquitto, free_port, make_tls, needs_mosquitto
from paho.mqtt.enums import CallbackAPIVersion
from test_delivery_support import wait_until

from edge.config import ConfigError, parse_config
from edge.config.delivery import MqttConfig, PlatformConfig
from edge.delivery.mqtt_wire import decode, encode
from edge.delivery.outbox import Outbox
from edge.delivery.platform import open_connection, open_fleet, open_sink
from edge.delivery.sender import Sender
from edge.receiver.mqtt import MqttConsumer
from edge.receiver.store import ReceiverStore
from edge.types import CaseMessage

from conftest import MODEL, STREAMS

pytestmark = needs_mosquitto


@pytest.fixture(scope="module")
def evidence() -> dict[str, bytes]:
    """Two real evidence JPEGs: a full vtest frame and a crop of it."""
    capture = cv2.VideoCapture(str(STREAMS / "vtest.avi"))
    ok, frame = capture.read()
    capture.release()
    assert ok
    full = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    crop = cv2.imencode(".jpg", frame[40:200, 560:760], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    return {"001-full.jpg": full, "002-crop.jpg": crop}


def case(i: int, seq: int, pictures: dict[str, bytes], camera: str = "gate") -> CaseMessage:
    case_id = f"{camera}-0505-{i:04d}"
    kind = "new" if seq == 1 else "update"
    body = {"case_id": case_id, "seq": seq, "kind": kind, "camera": {"id": camera}, "worker": {"id": "box-a"}}
    return CaseMessage(case_id, seq, kind, body, pictures)


def mqtt_platform(url: str, **mqtt: object) -> PlatformConfig:
    return PlatformConfig(
        kind="mqtt",
        mqtt=MqttConfig(url=url, **mqtt),
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
        timeout_s=5.0,
    )


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker") as b:
        yield b


def consumer(store: ReceiverStore, url: str, client_id: str = "platform-1", **mqtt: object) -> MqttConsumer:
    c = MqttConsumer(store, MqttConfig(url=url, **mqtt), client_id, env={})
    c.start()
    wait_until(c.connection.connected.is_set, 10, "the consumer to connect")
    return c


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_outbox_over_mqtt_every_message_stored_once_with_its_pictures(tmp_path, broker, evidence, version):
    store = ReceiverStore(tmp_path / "platform.db")
    platform_side = consumer(store, broker.url)
    outbox = Outbox(tmp_path / "outbox.db")
    sent = [case(i, seq, evidence) for i in range(4) for seq in (1, 2)]
    for msg in sent:
        outbox.put(msg)
    sender = Sender(
        outbox,
        mqtt_platform(broker.url, version=version),
        open_sink(mqtt_platform(broker.url, version=version), "box-a", env={}),
    )
    try:
        assert sender.deliver_pending(timeout_s=30) == len(sent)
        assert outbox.stats().pending == 0
        wait_until(lambda: store.count() == len(sent), 10, "every message at the platform")
    finally:
        sender.close()
        platform_side.stop()
    for msg in sent:
        stored = store.case(msg.case_id)
        assert stored is not None and [m["seq"] for m in stored["messages"]] == [1, 2]
        for name, data in msg.pictures.items():
            got = store.picture(msg.case_id, name)
            assert got is not None and hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    assert platform_side.duplicates == 0 and platform_side.invalid == 0


def test_with_no_platform_consumer_subscribed_messages_wait_in_the_outbox(tmp_path, broker, evidence):
    """An MQTT 5 broker PUBACKs 'no matching subscribers': taken as not delivered, kept until one subscribes."""
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(case(1, 1, evidence))
    platform = mqtt_platform(broker.url)
    sender = Sender(outbox, platform, open_sink(platform, "box-a", env={}))
    store = ReceiverStore(tmp_path / "platform.db")
    try:
        assert sender.deliver_pending(timeout_s=0.5) == 0
        assert "no platform consumer is subscribed" in (sender.health().last_error or "")
        assert outbox.stats().pending == 1
        platform_side = consumer(store, broker.url)
        assert sender.deliver_pending(timeout_s=30) == 1
        wait_until(lambda: store.count() == 1, 10, "the message at the platform")
        platform_side.stop()
    finally:
        sender.close()


def retained_status(url_port: int, worker_id: str, prefix: str = "edge") -> dict:
    """The retained status message of a box, read by a fresh subscriber."""
    got: list[dict] = []
    ready = threading.Event()

    def on_message(_c, _u, message):
        got.append(json.loads(message.payload))
        ready.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_message = on_message
    client.connect("127.0.0.1", url_port)
    client.subscribe(f"{prefix}/{worker_id}/status", qos=1)
    client.loop_start()
    try:
        assert ready.wait(10), "no retained status"
    finally:
        client.loop_stop()
        client.disconnect()
    return got[-1]


def test_box_status_is_retained_online_and_says_goodbye_on_close(tmp_path, broker):
    platform = mqtt_platform(broker.url, status_interval_s=1)
    cameras = {"gate": "streaming"}
    connection = open_connection(platform, "box-a", env={})
    fleet = open_fleet(connection, "box-a", status=lambda: {"cameras": dict(cameras), "outbox": {"pending": 3}})
    assert connection is not None and fleet is not None
    fleet.start()
    wait_until(connection.connected.is_set, 10, "the fleet channel to connect")
    status = retained_status(broker.port, "box-a")
    assert status["online"] is True and status["cameras"] == {"gate": "streaming"}
    assert status["outbox"] == {"pending": 3} and status["software_version"]
    cameras["gate"] = "reconnecting"
    wait_until(lambda: retained_status(broker.port, "box-a")["cameras"]["gate"] == "reconnecting", 10, "a refresh")
    fleet.close()
    connection.stop()
    status = retained_status(broker.port, "box-a")
    assert (status["online"], status["reason"]) == (False, "stopped")


def undelivered(tmp_path, evidence, platform: PlatformConfig, env: dict[str, str]) -> tuple[Sender, Outbox]:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(case(1, 1, evidence))
    sender = Sender(outbox, platform, open_sink(platform, "box-a", env=env))
    assert sender.deliver_pending(timeout_s=1.0) == 0
    assert outbox.stats().pending == 1
    return sender, outbox


def test_wrong_credentials_are_a_clear_error_and_messages_wait(tmp_path, evidence):
    users = {"box-a": "right-password", "platform": "platform-password"}
    with Mosquitto(tmp_path / "broker", users=users) as broker:
        store = ReceiverStore(tmp_path / "platform.db")
        platform_env = {"EDGE_MQTT_USERNAME": "platform", "EDGE_MQTT_PASSWORD": "platform-password"}
        platform_side = MqttConsumer(store, MqttConfig(url=broker.url), "platform-1", env=platform_env)
        platform_side.start()
        platform = mqtt_platform(broker.url)
        wrong = {"EDGE_MQTT_USERNAME": "box-a", "EDGE_MQTT_PASSWORD": "guess"}
        sender, outbox = undelivered(tmp_path, evidence, platform, wrong)
        assert "refused the session" in (sender.health().last_error or "")
        assert "refused the session" in (outbox.stats().last_error or "")  # what /api/outbox shows
        assert sender.health().consecutive_failures > 0
        sender.close()
        right = {"EDGE_MQTT_USERNAME": "box-a", "EDGE_MQTT_PASSWORD": "right-password"}
        sender = Sender(outbox, platform, open_sink(platform, "box-a", env=right))
        assert sender.deliver_pending(timeout_s=30) == 1
        sender.close()
        wait_until(lambda: store.count() == 1, 10, "the message at the platform")
        platform_side.stop()


def test_unreachable_broker_is_a_clear_error_and_messages_wait(tmp_path, evidence):
    sender, _ = undelivered(tmp_path, evidence, mqtt_platform(f"mqtt://127.0.0.1:{free_port()}"), {})
    assert "refused the connection" in (sender.health().last_error or "")
    sender.close()


def test_tls_broker_untrusted_then_trusted(tmp_path, evidence):
    tls = make_tls(tmp_path / "tls")
    with Mosquitto(tmp_path / "broker", tls=tls) as broker:
        store = ReceiverStore(tmp_path / "platform.db")
        trusted = {"tls": {"ca_file": str(tls["ca"])}}
        platform_side = consumer(store, broker.url, **trusted)
        sender, outbox = undelivered(tmp_path, evidence, mqtt_platform(broker.url), {})  # system CAs only
        assert "not trusted" in (sender.health().last_error or "")
        assert "not trusted" in (outbox.stats().last_error or "")
        sender.close()
        plain = mqtt_platform(broker.url.replace("mqtts://", "mqtt://"))
        sender = Sender(outbox, plain, open_sink(plain, "box-a", env={}))
        assert sender.deliver_pending(timeout_s=1.0) == 0
        assert "without answering the MQTT handshake" in (sender.health().last_error or "")
        sender.close()
        platform = mqtt_platform(broker.url, **trusted)
        sender = Sender(outbox, platform, open_sink(platform, "box-a", env={}))
        assert sender.deliver_pending(timeout_s=30) == 1
        sender.close()
        wait_until(lambda: store.count() == 1, 10, "the message at the platform")
        platform_side.stop()


def test_payload_cap_thins_pictures_last_first_and_decode_checks_them(evidence):
    msg = case(1, 1, evidence)
    whole = encode(msg, (), 1024 * 1024)
    assert whole is not None and whole.thinned == ()
    assert decode(whole.payload).pictures == evidence
    full_only = encode(msg, (), len(whole.payload) - 100)
    assert full_only is not None and full_only.thinned == ("002-crop.jpg",)
    assert list(decode(full_only.payload).pictures) == ["001-full.jpg"]
    assert encode(msg, (), 100) is None  # not even the record fits: the sink dead-letters it
    damaged = json.loads(whole.payload)
    damaged["pictures"][0]["sha256"] = "0" * 64
    with pytest.raises(ValueError, match="does not match its sha256"):
        decode(json.dumps(damaged).encode())


def test_a_message_over_the_payload_cap_is_dead_lettered_labelled_mqtt_and_the_next_one_goes(tmp_path, broker):
    """A rejection names the sink that refused it: an MQTT box's dead letters never say HTTP."""
    outbox = Outbox(tmp_path / "outbox.db")
    too_big = case(1, 1, {})
    too_big.body["note"] = "x" * 20_000  # the record alone is over 16 KB: it can never be sent
    outbox.put(too_big)
    outbox.put(case(2, 1, {}))
    # 3.1.1 and the PUBACK alone: the message that fits is delivered without a platform consumer
    platform = mqtt_platform(broker.url, max_payload_kb=16, version="3.1.1", confirm="puback")
    sender = Sender(outbox, platform, open_sink(platform, "box-a", env={}))
    try:
        assert sender.deliver_pending(timeout_s=30) == 1  # the second message is not held up
        [dead] = outbox.dead_letters()
        assert dead.message_id == too_big.message_id and "max_payload_kb" in dead.response
        assert f"{too_big.message_id} dead-lettered: mqtt" in (sender.health().last_error or "")
    finally:
        sender.close()
        outbox.close()


@pytest.mark.parametrize(
    ("platform", "problem"),
    [
        ({"kind": "mqtt", "mqtt": {"url": "http://broker:1883"}}, "mqtt url must be mqtt://host"),
        ({"kind": "mqtt", "mqtt": {"url": "mqtt://broker:99999"}}, "bad port"),
        ({"kind": "mqtt", "mqtt": {"topic_prefix": "city/#"}}, "topic_prefix"),
        ({"kind": "mqtt", "mqtt": {"version": "4"}}, "version"),
        ({"kind": "mqtt", "mqtt": {"password": "secret"}}, "password"),  # secrets never in the file
    ],
)
def test_bad_mqtt_settings_fail_at_start_naming_the_field(tmp_path, platform, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_config({"models": [{"id": "m", "path": str(MODEL)}], "platform": platform}, tmp_path)


def test_worker_id_must_be_a_topic_level_for_mqtt(tmp_path):
    data = {"models": [{"id": "m", "path": str(MODEL)}], "worker": {"id": "box/1"}, "platform": {"kind": "mqtt"}}
    with pytest.raises(ConfigError, match=r"worker\.id"):
        parse_config(data, tmp_path)


def test_confirm_platform_waits_for_the_consumers_confirmation_not_just_the_puback(tmp_path, broker, evidence):
    """With `confirm: platform` a subscriber that takes messages but never stores them is not enough."""
    silent = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    silent.connect("127.0.0.1", broker.port)
    silent.subscribe("edge/+/cases/+", qos=1)
    silent.loop_start()
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(case(1, 1, evidence))
    platform = mqtt_platform(broker.url, confirm="platform").model_copy(update={"timeout_s": 0.5})
    sender = Sender(outbox, platform, open_sink(platform, "box-a", env={}))
    store = ReceiverStore(tmp_path / "platform.db")
    try:
        assert sender.deliver_pending(timeout_s=1.0) == 0
        assert "no platform confirmation" in (sender.health().last_error or "")
        platform_side = consumer(store, broker.url)
        assert sender.deliver_pending(timeout_s=30) == 1
        assert store.count() == 1
        platform_side.stop()
    finally:
        sender.close()
        silent.loop_stop()
        silent.disconnect()


@pytest.mark.parametrize(("content", "problem"), [(None, "is not a file"), ("not a certificate", "cannot be used")])
def test_bad_tls_files_fail_at_start(tmp_path, content, problem):
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_text(content)
    platform = {"kind": "mqtt", "mqtt": {"url": "mqtts://broker:8883", "tls": {"ca_file": "ca.pem"}}}
    with pytest.raises(ConfigError, match=problem):
        parse_config({"models": [{"id": "m", "path": str(MODEL)}], "platform": platform}, tmp_path)
