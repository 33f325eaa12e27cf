"""The bounded hand-off from sources to inference: when inference lags, the oldest frame goes.

Live video is only worth analysing while it is fresh; a queue that grows builds lag that never
recovers. Dropping the oldest keeps the newest picture of every camera flowing, and every drop is
counted against its camera so an operator can see that the box is overloaded.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from edge.ingest.health import HealthRegistry
from edge.types import Frame


class FrameQueue:
    """Thread-safe, bounded, drop-oldest queue of frames from any number of cameras."""

    def __init__(self, capacity: int, health: HealthRegistry | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"queue capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._frames: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._health = health
        self.dropped: dict[str, int] = {}

    def put(self, frame: Frame) -> None:
        """Never blocks; use as a `CameraStream`'s `on_frame`."""
        lost = None
        with self._cond:
            if len(self._frames) >= self._capacity:
                lost = self._frames.popleft()
                self.dropped[lost.camera_id] = self.dropped.get(lost.camera_id, 0) + 1
            self._frames.append(frame)
            self._cond.notify()
        if lost is not None and self._health is not None:
            self._health.dropped(lost.camera_id)

    def get_many(self, max_items: int, timeout: float | None = None) -> list[Frame]:
        """Up to `max_items` frames, oldest first; waits up to `timeout` for the first one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._frames:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self._cond.wait(remaining)
            n = min(max_items, len(self._frames))
            return [self._frames.popleft() for _ in range(n)]

    def __len__(self) -> int:
        with self._cond:
            return len(self._frames)
