"""Shared helpers for the delivery and receiver tests (no tests of its own).

Real things only: JPEGs encoded by OpenCV, a uvicorn receiver on a free 127.0.0.1 port,
SQLite files under tmp_path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from edge.config.delivery import PlatformConfig
from edge.http_server import ThreadedServer
from edge.receiver.app import create_app
from edge.receiver.faults import Faults
from edge.types import CaseMessage

REPO = Path(__file__).resolve().parents[1]


def jpeg(value: int, size: int = 16) -> bytes:
    """A small real JPEG whose content identifies it (a flat grey level)."""
    ok, data = cv2.imencode(".jpg", np.full((size, size, 3), value, np.uint8))
    assert ok
    return data.tobytes()


def noisy_jpeg(seed: int, size: int = 64) -> bytes:
    """A JPEG that does not compress away (about 10 KB at 64x64): for size bounds."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0, what: str = "condition") -> None:
    """Poll `condition`; the timeout only guards against a hung test, it is not a measurement."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def message(case: int, seq: int, pictures: int = 2, kind: str | None = None) -> CaseMessage:
    case_id = f"cam1-0505-{case:04d}"
    kind = kind or ("new" if seq == 0 else "update")
    body = {
        "case_id": case_id,
        "seq": seq,
        "kind": kind,
        "event_code": "0505",
        "severity": "normal",
        "note": f"案件 {case}/{seq}",
    }
    names = ["full.jpg", "crop.jpg", "extra.jpg"][:pictures]
    return CaseMessage(case_id, seq, kind, body, {n: jpeg((case * 7 + seq * 3 + i) % 250) for i, n in enumerate(names)})


def platform(url: str, **changes: float | str) -> PlatformConfig:
    """Platform config with retries fast enough for tests."""
    values = {"url": f"{url}/api/cases", "backoff_initial_s": 0.02, "backoff_max_s": 0.2, "timeout_s": 5.0}
    return PlatformConfig(**{**values, **changes})


@contextmanager
def running_receiver(
    db: Path, faults: Faults | None = None, port: int = 0, **options: object
) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(db, faults=faults, seed=1234, **options), port=port).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def small_disk(mount_point: Path, size_mb: float) -> Iterator[Path]:
    """A real small file system (tmpfs) at `mount_point`, for disk-full tests.

    Needs root, as CI runs; elsewhere the test is skipped, but never in CI (`CI` set)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            raise AssertionError("the disk-full tests need root in CI, to mount a small tmpfs")
        pytest.skip("mounting a small tmpfs needs root")
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={int(size_mb * 1024)}k", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def set_free(filler: Path, free_mb: float) -> None:
    """Grow or shrink `filler` so that its file system has about `free_mb` MB free.

    A running worker writes to the same file system meanwhile: when its writes take the space just
    measured, the free space is measured again."""
    for _ in range(10):
        have = filler.stat().st_size if filler.exists() else 0
        size = max(0, have + shutil.disk_usage(filler.parent).free - int(free_mb * 2**20))
        with open(filler, "ab") as f:
            if size <= have:
                f.truncate(size)
                return
            try:
                os.posix_fallocate(f.fileno(), 0, size)
                return
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    raise AssertionError(f"could not leave {free_mb} MB free on {filler.parent}: something keeps writing")


def fill_up(filler: Path) -> None:
    """Take every free block of the file system (a disk that is really full)."""
    set_free(filler, 1.0)  # a margin, so the worker's writes cannot race the large allocation
    with open(filler, "ab", buffering=0) as f, contextlib.suppress(OSError):
        while True:  # the rest, block by block, to the last one
            f.write(b"\0" * 4096)


def replays(url: str) -> int:
    """Posts of a key the receiver had already stored: messages sent again."""
    return httpx.get(f"{url}/healthz").json()["replays"]


def pending_ids(outbox_file: Path) -> set[str]:
    """Message ids the outbox still holds as pending, read straight from the file."""
    with sqlite3.connect(outbox_file) as db:
        return {row[0] for row in db.execute("SELECT message_id FROM messages WHERE state = 'pending'")}


def assert_exactly_once_in_order(messages: list[dict], sent: list[CaseMessage]) -> None:
    ids = [m["message_id"] for m in messages]
    assert len(ids) == len(set(ids)), "a message was stored twice"
    assert set(ids) == {m.message_id for m in sent}, "a message is missing"
    for case in {m["case_id"] for m in messages}:
        seqs = [m["seq"] for m in sorted(messages, key=lambda m: m["arrival"]) if m["case_id"] == case]
        assert seqs == sorted(seqs), f"case {case} arrived out of order: {seqs}"


def stored(url: str) -> list[dict]:
    """Every stored message, case by case, in arrival order."""
    cases = httpx.get(f"{url}/api/cases").json()
    return [m for c in cases for m in httpx.get(f"{url}/api/cases/{c['case_id']}").json()["messages"]]


def outbox_process(*args: str) -> subprocess.Popen:
    """`python -m edge.delivery ARGS` as a real process of its own."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "edge.delivery", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def flush_killed_after(args: list[str], receiver_url: str, stored: int, what: str) -> None:
    """`edge outbox flush ARGS`, SIGKILLed once the receiver holds `stored` messages (mid-delivery)."""
    with outbox_process(*args) as first:  # closes its output pipe, which nobody reads after the kill
        try:
            wait_until(lambda: httpx.get(f"{receiver_url}/healthz").json()["messages"] >= stored, what=what)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
    assert first.returncode == -signal.SIGKILL
