"""Helpers the bench scripts share: the machine they ran on, decoded test frames, timed worker threads."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
VTEST = REPO / "streams" / "vtest.avi"


def decode_frames(count: int) -> list[np.ndarray]:
    """The first `count` pictures of streams/vtest.avi as BGR arrays."""
    with av.open(str(VTEST)) as container:
        return [f.to_ndarray(format="bgr24") for _, f in zip(range(count), container.decode(video=0), strict=False)]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line naming the CPU, the usable cores and the load other work puts on them."""
    return f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}"


def for_seconds(work: Callable[[int, threading.Event], None], threads: int, seconds: float) -> None:
    """Run `work(i, stop)` on `threads` threads for `seconds`, then set `stop` and join them."""
    stop = threading.Event()
    pool = [threading.Thread(target=work, args=(i, stop)) for i in range(threads)]
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
