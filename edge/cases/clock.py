"""The case clock: seconds that advance with *media* time, anchored to wall time per session.

Persistence is measured in media seconds (a replay as fast as possible counts the clip's own time);
the clock is anchored to the frame's wall time when a session starts (first frame, or media time
going backwards after a reconnect). Case times and ids come from it, and it never runs backwards,
even across restarts (the last value is saved with the rule state).
"""

from __future__ import annotations

import math

from edge.types import Frame


class CaseClock:
    """One camera's clock; `tick(frame)` per analysed frame, in media-time order."""

    def __init__(self, saved: float | None) -> None:
        self.now: float | None = saved  # None until the first frame of a camera never seen before
        self.observed_since = -math.inf  # clock value at which the current session started watching
        self._offset: float | None = None
        self._last_media = -math.inf

    def tick(self, frame: Frame) -> float:
        """The clock value of this frame (also `now` from here on)."""
        if self._offset is None or frame.media_time < self._last_media:
            floor = -math.inf if self.now is None else self.now
            self._offset = max(frame.wall_time, floor) - frame.media_time
            self.observed_since = frame.media_time + self._offset
        self._last_media = frame.media_time
        value = frame.media_time + self._offset
        self.now = value if self.now is None else max(value, self.now)
        return value
