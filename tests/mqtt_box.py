"""A box's delivery side as a process of its own, for the broker-kill test: a durable outbox fed at a
steady rate and drained by the real sender through the MQTT sink, with the default settings.

    python tests/mqtt_box.py BROKER_URL WORKER_ID OUTBOX_FILE COUNT RATE [CONFIRM]

Puts COUNT case messages (new, update, cleared per case, each with an evidence picture) at RATE per
second while the sender runs, then waits until the outbox has let every one go and exits 0; the
platform's side counts what arrived. Everything but the broker's address is the default
(`PlatformConfig(kind="mqtt")`), so this is what a box configured from the README does; CONFIRM
(`puback`) shows what another setting would have lost.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config.delivery import MqttConfig, PlatformConfig
from edge.delivery.outbox import Outbox
from edge.delivery.platform import open_sink
from edge.delivery.sender import Sender
from edge.types import CaseMessage


def picture(seed: int) -> bytes:
    """About 60 KB, as an evidence crop is: a broker takes longer to save big messages."""
    noise = np.random.default_rng(seed).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def case_message(worker_id: str, i: int) -> CaseMessage:
    case, seq = divmod(i, 3)
    case_id = f"{worker_id}-{case:05d}"
    kind = ("new", "update", "cleared")[seq]
    jpeg = picture(i)
    body = {"case_id": case_id, "seq": seq, "kind": kind, "camera": {"id": "gate"}}
    body["evidence"] = [{"name": "full.jpg", "sha256": hashlib.sha256(jpeg).hexdigest()}]
    return CaseMessage(case_id, seq, kind, body, {"full.jpg": jpeg})


def main(broker_url: str, worker_id: str, outbox_file: str, count: int, rate: float, confirm: str | None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    mqtt = MqttConfig(url=broker_url) if confirm is None else MqttConfig(url=broker_url, confirm=confirm)
    platform = PlatformConfig(kind="mqtt", mqtt=mqtt, backoff_initial_s=0.1, backoff_max_s=1.0)
    outbox = Outbox(Path(outbox_file))
    sender = Sender(outbox, platform, open_sink(platform, worker_id, env={}))
    sender.start()
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        outbox.put(case_message(worker_id, i))
    deadline = time.monotonic() + 120
    while outbox.stats().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    left = outbox.stats().pending
    sender.close()
    outbox.close()
    print(f"{worker_id}: {count} put, {left} still pending", flush=True)
    return 1 if left else 0


if __name__ == "__main__":
    url, worker, path, n, per_s = sys.argv[1:6]
    sys.exit(main(url, worker, path, int(n), float(per_s), sys.argv[6] if len(sys.argv) > 6 else None))
