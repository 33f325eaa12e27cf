"""The case clock: seconds that advance with *media* time, anchored to wall time per session.

Persistence is measured in media seconds (a replay as fast as possible counts the clip's own time);
the clock is anchored to the frame's wall time when a session starts (first frame, or media time
going backwards after a reconnect). Case times and ids come from it, and it never runs backwards,
even across restarts (the last value is saved with the rule state).

A patrol camera is seen in visits (`begin_visit`): while a visit runs, absence counts from its first
picture (`observed_since`), since the gap before it is not evidence; once it has looked, absence
counts from the start of the watch (`watching_since`), gaps included (`CaseEngine.end_visit`).
"""

from __future__ import annotations

import math

from edge.types import Frame


class CaseClock:
    """One camera's clock; `tick(frame)` per analysed frame, in media-time order."""

    def __init__(self, saved: float | None) -> None:
        self.now: float | None = saved  # None until the first frame of a camera never seen before
        self.observed_since = -math.inf  # clock value at which the current session (or patrol visit) started
        self.watching_since = -math.inf  # clock value at which this run started watching (patrol: across visits)
        self.visit_started = math.inf  # patrol: clock value of the current visit's first picture
        self._visit_starts = False  # the next tick is a visit's first picture
        self._resumed = False  # ... after a failed visit or a restart: the watch starts again there
        self._offset: float | None = None
        self._last_media = -math.inf

    def tick(self, frame: Frame) -> float:
        """The clock value of this frame (also `now` from here on)."""
        if self._offset is None or frame.media_time < self._last_media:
            floor = -math.inf if self.now is None else self.now
            self._offset = max(frame.wall_time, floor) - frame.media_time
            self.observed_since = self.watching_since = frame.media_time + self._offset
        self._last_media = frame.media_time
        value = frame.media_time + self._offset
        self.now = value if self.now is None else max(value, self.now)
        if self._visit_starts:
            self.observed_since = self.visit_started = self.now
            if self._resumed:
                self.watching_since = self.now
            self._visit_starts = self._resumed = False
        return value

    def begin_visit(self, resumed: bool) -> None:
        """The next tick is a patrol visit's first picture; `resumed`: no visit of this camera saw anything
        since the last one that did (it failed, or the worker restarted), so that time is not watched."""
        self._visit_starts = True
        self._resumed = resumed
        self.visit_started = math.inf  # until its first picture: a visit that analyses none saw nothing
