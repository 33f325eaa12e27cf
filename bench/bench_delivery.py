"""Delivery throughput and confirm-to-acknowledged latency on loopback, reliable vs flaky platform.

The receiver runs as its own process (`python -m edge.receiver`), so it does not share the
sender's GIL. Messages carry two real evidence JPEGs (a full vtest frame and a crop). All
scenarios run in the same invocation against the same receiver process:

  raw       plain httpx posts of the same wire requests, no outbox: the baseline
  reliable  Outbox.put (fsync'd) + Sender, receiver answering everything
  flaky     the same with the receiver failing a fraction of posts with 500/503,
            half of them after storing (lost acknowledgements)
  recovery  a backlog queued while the platform is down (503 on everything) for `--outage` s,
            with the sender running; measured from the platform's return to the whole backlog
            delivered, against the same backlog drained by a fresh sender (the baseline)

and over MQTT, against a real mosquitto (generated config, persistence on) and a second
receiver process consuming it (`--mqtt`, shared subscription):

  raw mqtt  plain paho QoS 1 publishes of the same payloads, each waiting for its PUBACK
  platform  Outbox.put + Sender + MqttSink with the defaults (`confirm: platform`, a window of 16):
            a message leaves once the receiver confirms it stored it
  window 1  the same, one message at a time (what the window buys)
  puback    the same window, a message leaves the outbox on its PUBACK alone

Throughput: a pre-filled outbox drained by `deliver_pending`. Latency: a producer puts
messages at a steady rate while the background sender runs; latency is the outbox's
`delivered_at - created_at` (the case confirmed -> the platform acknowledged).

    .venv/bin/python bench/bench_delivery.py [--messages 300] [--rate 20] [--fail-rate 0.3] [--no-mqtt]
                                             [--no-http] [--backlog 60] [--outage 10] [--broker-kills N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' mosquitto runner

from mqtt_support import Mosquitto  # noqa: E402

from edge.config.delivery import MqttConfig, PlatformConfig  # noqa: E402
from edge.delivery.mqtt import connect_properties, mqtt_client  # noqa: E402
from edge.delivery.mqtt_wire import case_topic, encode  # noqa: E402
from edge.delivery.outbox import Outbox  # noqa: E402
from edge.delivery.platform import open_sink  # noqa: E402
from edge.delivery.sender import Sender  # noqa: E402
from edge.delivery.wire import build_request  # noqa: E402
from edge.types import CaseMessage  # noqa: E402

BOX = "bench-box"


def evidence() -> dict[str, bytes]:
    capture = cv2.VideoCapture(str(REPO / "streams" / "vtest.avi"))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit("cannot read streams/vtest.avi")
    full = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    crop = cv2.imencode(".jpg", frame[40:200, 560:760], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    return {"full.jpg": full, "crop.jpg": crop}


def messages(prefix: str, count: int, pictures: dict[str, bytes]) -> list[CaseMessage]:
    """`count` messages over count/3 cases (new, update, cleared each), interleaved across
    cases as a camera's cases are: every case opens, later each is updated, later cleared."""
    cases = count // 3
    out = []
    for i in range(cases * 3):
        case_id, seq = f"{prefix}-{i % cases:05d}", i // cases
        kind = ("new", "update", "cleared")[seq]
        body = {"case_id": case_id, "seq": seq, "kind": kind, "event_code": "0505", "camera": {"id": "cam-1"}}
        out.append(CaseMessage(case_id, seq, kind, body, pictures if seq < 2 else {}))
    return out


def start_receiver(db: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "edge.receiver", "--port", str(port), "--db", str(db), "--seed", "7", *extra]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            httpx.get(f"{url}/healthz")
            return proc, url
        except httpx.TransportError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("receiver did not start")


def raw_throughput(url: str, batch: list[CaseMessage]) -> float:
    start = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for msg in batch:
            request = build_request(f"{url}/api/cases", msg, msg.pictures, (), token=None, hmac_secret=None, now=0)
            client.send(request).raise_for_status()
    return len(batch) / (time.perf_counter() - start)


def outbox_throughput(folder: Path, config: PlatformConfig, batch: list[CaseMessage]) -> tuple[float, float]:
    """(messages/s end to end including the fsync'd puts, median put time in ms)."""
    outbox = Outbox(folder / f"{batch[0].case_id}.db")
    start = time.perf_counter()
    puts = []
    for msg in batch:
        t = time.perf_counter()
        outbox.put(msg)
        puts.append(time.perf_counter() - t)
    sender = Sender(outbox, config, open_sink(config, BOX))
    delivered = sender.deliver_pending(timeout_s=600)
    elapsed = time.perf_counter() - start
    sender.close()
    outbox.close()
    assert delivered == len(batch), f"only {delivered} of {len(batch)} delivered"
    return len(batch) / elapsed, 1000 * float(np.median(puts))


def latencies(folder: Path, config: PlatformConfig, batch: list[CaseMessage], rate: float) -> np.ndarray:
    path = folder / f"{batch[0].case_id}.db"
    outbox = Outbox(path)
    sender = Sender(outbox, config, open_sink(config, BOX))
    sender.start()
    start = time.perf_counter()
    for i, msg in enumerate(batch):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        outbox.put(msg)
    while outbox.stats().pending:
        time.sleep(0.01)
    sender.close()
    outbox.close()
    with sqlite3.connect(path) as db:
        return np.array([d for (d,) in db.execute("SELECT delivered_at - created_at FROM messages")])


def fresh_drain(folder: Path, config: PlatformConfig, batch: list[CaseMessage]) -> float:
    """Seconds a fresh sender takes to drain a pre-filled outbox (puts not counted)."""
    outbox = Outbox(folder / f"{batch[0].case_id}.db")
    for msg in batch:
        outbox.put(msg)
    sender = Sender(outbox, config)
    start = time.perf_counter()
    assert sender.deliver_pending(timeout_s=600) == len(batch)
    elapsed = time.perf_counter() - start
    sender.close()
    outbox.close()
    return elapsed


def drain_after_outage(
    folder: Path, config: PlatformConfig, batch: list[CaseMessage], url: str, outage_s: float
) -> tuple[float, float, int]:
    """A backlog queued while the platform is down, the sender running all along. Returns seconds
    from the platform's return to the first and to the last delivery, and how many requests the
    sender made while the platform was down (it probes; it must not hammer)."""
    path = folder / f"{batch[0].case_id}.db"
    httpx.put(f"{url}/admin/faults", json={"down": True}).raise_for_status()
    outbox = Outbox(path)
    sender = Sender(outbox, config)
    sender.start()
    for msg in batch:
        outbox.put(msg)
    time.sleep(outage_s)
    with sqlite3.connect(path) as db:
        (tries,) = db.execute("SELECT SUM(attempts) FROM messages").fetchone()
    up = time.time()
    httpx.put(f"{url}/admin/faults", json={}).raise_for_status()
    while outbox.stats().pending:
        time.sleep(0.01)
    sender.close()
    outbox.close()
    with sqlite3.connect(path) as db:
        first, last = db.execute("SELECT MIN(delivered_at), MAX(delivered_at) FROM messages").fetchone()
    return first - up, last - up, int(tries)


def raw_mqtt_throughput(broker: Mosquitto, batch: list[CaseMessage], max_bytes: int) -> float:
    """Publish-and-wait-for-PUBACK, one at a time, as the sender does, with nothing kept on disk."""
    mqtt = MqttConfig(url=broker.url)
    client = mqtt_client(mqtt, "bench-raw", {})  # the sink's own client settings, minus outbox and sender
    client.connect(broker.host, broker.port, properties=connect_properties(mqtt))
    client.loop_start()
    start = time.perf_counter()
    for msg in batch:
        encoded = encode(msg, (), max_bytes)
        assert encoded is not None
        client.publish(case_topic("edge", BOX, msg.body), encoded.payload, qos=1).wait_for_publish(10)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return len(batch) / elapsed


def wait_for_messages(url: str, count: int, timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    while (stored := httpx.get(f"{url}/healthz").json()["messages"]) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return stored


def mqtt_scenarios(folder: Path, args: argparse.Namespace, pictures: dict[str, bytes]) -> dict[str, float | np.ndarray]:
    """Raw publishes, then outbox + sender with confirm puback and platform; each message stored once."""
    broker = Mosquitto(folder / "broker").start()
    receiver, url = start_receiver(folder / "mqtt-receiver.db", "--mqtt", broker.url)
    results: dict[str, float | np.ndarray] = {}
    try:
        time.sleep(1.0)  # the receiver subscribes (its shared subscription must exist before publishes)
        platform = PlatformConfig(kind="mqtt", mqtt=MqttConfig(url=broker.url))  # the defaults
        puback = platform.model_copy(update={"mqtt": MqttConfig(url=broker.url, confirm="puback")})
        window1 = platform.model_copy(update={"mqtt": MqttConfig(url=broker.url, window=1)})
        max_bytes = puback.mqtt.max_payload_kb * 1024
        before = raw_mqtt_throughput(broker, messages("mraw", args.messages, pictures), max_bytes)
        results["platform"], _ = outbox_throughput(folder, platform, messages("mcon", args.messages, pictures))
        results["platform_lat"] = latencies(folder, platform, messages("mclat", args.messages, pictures), args.rate)
        results["window1"], _ = outbox_throughput(folder, window1, messages("mw1", args.messages, pictures))
        results["window1_lat"] = latencies(folder, window1, messages("mw1lat", args.messages, pictures), args.rate)
        results["puback"], _ = outbox_throughput(folder, puback, messages("mpub", args.messages, pictures))
        results["puback_lat"] = latencies(folder, puback, messages("mplat", args.messages, pictures), args.rate)
        after = raw_mqtt_throughput(broker, messages("mraw2", args.messages, pictures), max_bytes)
        results["raw"] = max(before, after)  # the baseline at its best, measured before and after the others
        results["stored"] = wait_for_messages(url, 8 * (args.messages // 3 * 3))
    finally:
        receiver.terminate()
        receiver.wait(10)
        broker.stop()
    return results


def broker_kill_losses(folder: Path, confirm: str, count: int, pictures: dict[str, bytes]) -> int:
    """Stream `count` messages, SIGKILL the broker after a third is delivered, restart it on the same
    port; how many never reach the receiver although the outbox let them go (it keeps each id once)."""
    run = folder / f"kill-{confirm}-{time.monotonic_ns()}"
    broker = Mosquitto(run / "broker").start()
    receiver, url = start_receiver(run / "receiver.db", "--mqtt", broker.url)
    config = PlatformConfig(
        kind="mqtt", mqtt=MqttConfig(url=broker.url, confirm=confirm), backoff_initial_s=0.05, backoff_max_s=0.5
    )
    outbox = Outbox(run / "outbox.db")
    sender = Sender(outbox, config.model_copy(update={"timeout_s": 2.0}), open_sink(config, BOX))
    try:
        time.sleep(1.5)  # the receiver subscribes and the broker saves its session
        for msg in messages("kill", count, pictures):
            outbox.put(msg)
        sender.start()
        while outbox.stats().delivered < count // 3:
            time.sleep(0.005)
        broker.kill()
        time.sleep(1.0)
        broker.start()
        while outbox.stats().pending:
            time.sleep(0.05)
        stored = wait_for_messages(url, count, timeout_s=10)
    finally:
        sender.close()
        outbox.close()
        receiver.terminate()
        receiver.wait(10)
        broker.stop()
    return count - stored


def http_scenarios(folder: Path, args: argparse.Namespace, pictures: dict[str, bytes]) -> dict[str, float | np.ndarray]:
    """Raw posts, then outbox + sender against a reliable, a flaky and a down-then-back receiver."""
    receiver, url = start_receiver(folder / "receiver.db")
    config = PlatformConfig(url=f"{url}/api/cases")  # default backoff: 0.5 s initial, 60 s max
    flaky = {"fail_rate": args.fail_rate, "fail_statuses": [500, 503]}
    results: dict[str, float | np.ndarray] = {"probe_interval_s": config.probe_interval_s}
    try:
        results["raw"] = raw_throughput(url, messages("raw", args.messages, pictures))
        results["reliable"], results["put_ms"] = outbox_throughput(
            folder, config, messages("rel", args.messages, pictures)
        )
        results["reliable_lat"] = latencies(folder, config, messages("rlat", args.messages, pictures), args.rate)
        httpx.put(f"{url}/admin/faults", json={**flaky, "lose_ack": False}).raise_for_status()
        results["flaky"], _ = outbox_throughput(folder, config, messages("flk", args.messages, pictures))
        httpx.put(f"{url}/admin/faults", json={**flaky, "lose_ack": True}).raise_for_status()
        results["flaky_lat"] = latencies(folder, config, messages("flat", args.messages, pictures), args.rate)
        httpx.put(f"{url}/admin/faults", json={}).raise_for_status()
        results["fresh_s"] = fresh_drain(folder, config, messages("fresh", args.backlog, pictures))
        results["first_s"], results["drained_s"], results["tries"] = drain_after_outage(
            folder, config, messages("outage", args.backlog, pictures), url, args.outage
        )
        results["stored"] = httpx.get(f"{url}/healthz").json()["messages"]
    finally:
        receiver.terminate()
        receiver.wait(10)
    return results


def pct(values: float | np.ndarray, q: float) -> str:
    return f"{1000 * np.percentile(values, q):8.1f} ms"


def print_http(args: argparse.Namespace, http: dict[str, float | np.ndarray]) -> None:
    expected = 5 * (args.messages // 3 * 3)
    backlog = args.backlog // 3 * 3
    stored = http["stored"]
    assert stored == expected + 2 * backlog, f"receiver holds {stored} messages, expected {expected + 2 * backlog}"
    raw, reliable, flaky = float(http["raw"]), float(http["reliable"]), float(http["flaky"])
    reliable_lat, flaky_lat = http["reliable_lat"], http["flaky_lat"]
    print(f"{args.messages} messages per scenario, loopback, receiver in its own process")
    print(f"{'scenario':<34}{'msg/s':>10}{'p50':>12}{'p99':>12}")
    print(f"{'raw httpx posts (baseline)':<34}{raw:>10.1f}")
    print(f"{'outbox + sender, reliable':<34}{reliable:>10.1f}{pct(reliable_lat, 50)}{pct(reliable_lat, 99)}")
    print(f"{f'outbox + sender, {args.fail_rate:.0%} 5xx':<34}{flaky:>10.1f}{pct(flaky_lat, 50)}{pct(flaky_lat, 99)}")
    print(f"median fsync'd put: {float(http['put_ms']):.2f} ms; latency runs at {args.rate:g} msg/s")
    print(f"ratio outbox/raw throughput:      {reliable / raw:.2f}")
    print(f"ratio flaky/reliable throughput:  {flaky / reliable:.2f}")
    print(f"ratio flaky/reliable p50 latency: {np.percentile(flaky_lat, 50) / np.percentile(reliable_lat, 50):.2f}")
    print(f"exactly once: the receiver holds {stored} messages, 5 scenarios x {expected // 5} + 2 x {backlog}")
    first_s, drained_s, fresh_s = float(http["first_s"]), float(http["drained_s"]), float(http["fresh_s"])
    print(
        f"recovery: platform down {args.outage:g} s with {backlog} messages waiting"
        f" (probe_interval_s {float(http['probe_interval_s']):g})"
    )
    print(f"  platform up -> first delivered {first_s:.2f} s, whole backlog delivered {drained_s:.2f} s")
    print(f"  requests to the down platform: {int(http['tries'])} in {args.outage:g} s")
    print(f"  the same backlog drained by a fresh sender (baseline): {fresh_s:.2f} s")
    print(f"ratio backlog after outage / fresh drain:          {drained_s / fresh_s:.2f}")
    print(f"ratio drain after the first answer / fresh drain:   {(drained_s - first_s) / fresh_s:.2f}")


def print_mqtt(args: argparse.Namespace, mqtt: dict[str, float | np.ndarray]) -> None:
    expected = 8 * (args.messages // 3 * 3)
    assert mqtt["stored"] == expected, f"MQTT receiver: {mqtt['stored']}, expected {expected}"
    print(
        f"MQTT: mosquitto on loopback, receiver process consuming a shared subscription, {args.messages} per scenario"
    )
    print(f"{'raw paho QoS 1 publishes (baseline)':<40}{mqtt['raw']:>10.1f}   (the better of a run before and after)")
    for key, label in (
        ("platform", "outbox + sender, defaults (platform, 16)"),
        ("window1", "outbox + sender, platform, window 1"),
        ("puback", "outbox + sender, puback, window 16"),
    ):
        lat = mqtt[f"{key}_lat"]
        print(f"{label:<40}{mqtt[key]:>10.1f}{pct(lat, 50)}{pct(lat, 99)}")
    print(f"ratio defaults/raw throughput:          {mqtt['platform'] / mqtt['raw']:.2f}")
    print(f"ratio window 1/raw throughput:          {mqtt['window1'] / mqtt['raw']:.2f}")
    print(f"ratio puback/raw throughput:            {mqtt['puback'] / mqtt['raw']:.2f}")
    print(f"exactly once: the MQTT receiver holds {mqtt['stored']} messages, 8 runs x {expected // 8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second in the latency run")
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--no-mqtt", action="store_true", help="HTTP scenarios only")
    parser.add_argument("--no-http", action="store_true", help="MQTT scenarios only")
    parser.add_argument("--broker-kills", type=int, default=0, help="also: N broker SIGKILLs per confirm mode")
    parser.add_argument("--backlog", type=int, default=60, help="messages queued during the outage")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the platform is down")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the flaky run logs every planned failure otherwise
    logging.getLogger("edge.delivery.mqtt").setLevel(logging.CRITICAL)  # the planned broker kills
    pictures = evidence()
    print(f"evidence per message: {', '.join(f'{n} {len(d) / 1024:.0f} KB' for n, d in pictures.items())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        http = None if args.no_http else http_scenarios(folder, args, pictures)
        mqtt = None if args.no_mqtt else mqtt_scenarios(folder, args, pictures)
    if http is not None:
        print_http(args, http)
    if mqtt is not None:
        print_mqtt(args, mqtt)
    if args.broker_kills:
        count = args.messages // 3 * 3
        print(
            f"broker SIGKILLed after a third of {count} messages, restarted after 1 s; {args.broker_kills} runs each:"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for confirm in ("puback", "platform"):
                runs = [broker_kill_losses(Path(tmp), confirm, count, pictures) for _ in range(args.broker_kills)]
                print(f"  confirm {confirm:<9} messages lost per run: {', '.join(str(lost) for lost in runs)}")


if __name__ == "__main__":
    main()
