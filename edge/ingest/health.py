"""Per-camera health, kept in one thread-safe place that the API and the worker read.

Streams write small updates (state changes, counters); readers take a `snapshot()` of plain frozen
values, so nothing outside holds a lock or sees a half-updated record.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class StreamState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    STALLED = "stalled"
    STOPPED = "stopped"


HISTORY = 32  # transitions kept per camera, enough to see a camera flapping

# The reconnect state machine; any other transition is a bug in the stream loop.
TRANSITIONS: dict[StreamState, frozenset[StreamState]] = {
    StreamState.STOPPED: frozenset({StreamState.CONNECTING}),
    # connected, but no picture within the stall timeout (a hang or undecodable data from the start)
    StreamState.CONNECTING: frozenset(
        {StreamState.STREAMING, StreamState.STALLED, StreamState.BACKOFF, StreamState.STOPPED}
    ),
    StreamState.STREAMING: frozenset(
        {StreamState.STALLED, StreamState.BACKOFF, StreamState.CONNECTING, StreamState.STOPPED}
    ),
    StreamState.STALLED: frozenset({StreamState.BACKOFF, StreamState.STOPPED}),
    StreamState.BACKOFF: frozenset({StreamState.CONNECTING, StreamState.STOPPED}),
}


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    state: StreamState
    input_fps: float  # packets per second arriving from the source
    analysed_fps: float  # frames per second handed on for analysis
    last_frame_age_s: float | None  # None before the first frame
    reconnects: int
    last_error: str | None
    dropped_frames: int  # analysed frames dropped by the hand-off because inference lagged
    corrupt_packets: int
    damaged_pictures: int  # decoded from damaged data (or referencing it): never analysed
    decode: str  # "all" or "keyframes", as currently decoded
    gop_s: float | None  # the settled key frame interval that decision rests on; None until known
    decode_switches: int  # changes of `decode` since start: 1 for a camera that settled on key frames
    width: int
    height: int
    last_stall_at: float | None  # time.time() of the last stall (hang, or no undamaged picture)
    last_stall: str | None  # why it stalled
    retry_at: float | None  # while backing off: time.time() of the next connection attempt


@dataclass(frozen=True, slots=True)
class Transition:
    at: float  # time.time()
    state: StreamState
    error: str | None


class _Rate:
    """Events per second over a sliding window of cumulative counts."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window_s = window_s
        self._points: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, n: int, now: float) -> None:
        self._total += n
        self._points.append((now, self._total))
        while len(self._points) > 2 and now - self._points[1][0] > self._window_s:
            self._points.popleft()

    def per_second(self, now: float) -> float:
        if len(self._points) < 2 or now - self._points[-1][0] > self._window_s:
            return 0.0
        (t0, c0), (t1, c1) = self._points[0], self._points[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0


@dataclass(slots=True)
class _Record:
    stall_timeout_s: float
    state: StreamState = StreamState.STOPPED
    last_frame_at: float | None = None  # last analysed frame
    last_picture_at: float | None = None  # last decoded picture: what the stall watchdog looks at
    reconnects: int = 0
    last_error: str | None = None
    dropped: int = 0
    corrupt: int = 0
    damaged: int = 0
    last_stall_at: float | None = None
    last_stall: str | None = None
    retry_at: float | None = None
    decode: str = "all"
    gop_s: float | None = None
    decode_switches: int = 0
    width: int = 0
    height: int = 0
    input: _Rate = field(default_factory=_Rate)
    analysed: _Rate = field(default_factory=_Rate)
    history: deque[Transition] = field(default_factory=lambda: deque(maxlen=HISTORY))


class HealthRegistry:
    """Thread-safe health of every camera; streams write, the API reads `snapshot()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def register(self, camera_id: str, stall_timeout_s: float, decode: str = "all") -> None:
        """`decode`: the mode the camera starts in (a change from it counts as a switch)."""
        with self._lock:
            self._records.setdefault(camera_id, _Record(stall_timeout_s, decode=decode))

    def transition(
        self, camera_id: str, state: StreamState, error: str | None = None, retry_at: float | None = None
    ) -> None:
        """Move a camera along the state machine; `error` becomes its last error when given (and its
        last stall's reason on STALLED); `retry_at` is when a BACKOFF ends."""
        with self._lock:
            record = self._records[camera_id]
            now = time.time()
            if state != record.state:
                if state not in TRANSITIONS[record.state]:
                    raise RuntimeError(f"camera {camera_id}: illegal transition {record.state} -> {state}")
                if record.state == StreamState.BACKOFF and state == StreamState.CONNECTING:
                    record.reconnects += 1
                record.state = state
                record.history.append(Transition(now, state, error))
                if state == StreamState.STALLED:
                    record.last_stall_at, record.last_stall = now, error
            record.retry_at = retry_at if state == StreamState.BACKOFF else None
            if error is not None:
                record.last_error = error

    def history(self, camera_id: str) -> list[Transition]:
        """The camera's recent state changes, oldest first (a stall lasts only until backoff begins)."""
        with self._lock:
            return list(self._records[camera_id].history)

    def state(self, camera_id: str) -> StreamState:
        with self._lock:
            return self._records[camera_id].state

    def progress(self, camera_id: str, packets: int, pictures: int, corrupt: int, damaged: int = 0) -> None:
        """Counts since the last call: packets read, clean pictures decoded, corrupt packets and damaged
        pictures skipped."""
        now = time.monotonic()
        with self._lock:
            record = self._records[camera_id]
            record.input.add(packets, now)
            record.corrupt += corrupt
            record.damaged += damaged
            if pictures:
                record.last_picture_at = now

    def analysed(self, camera_id: str, width: int, height: int) -> None:
        now = time.monotonic()
        with self._lock:
            record = self._records[camera_id]
            record.analysed.add(1, now)
            record.last_frame_at = now
            record.width, record.height = width, height

    def decoding(self, camera_id: str, mode: str, gop_s: float | None) -> None:
        """The decode mode just chosen (at a session's start, or when the settled GOP changed) and its GOP."""
        with self._lock:
            record = self._records[camera_id]
            record.decode_switches += mode != record.decode
            record.decode, record.gop_s = mode, gop_s

    def dropped(self, camera_id: str, n: int = 1) -> None:
        with self._lock:
            if camera_id in self._records:
                self._records[camera_id].dropped += n

    def snapshot(self) -> dict[str, CameraHealth]:
        """Current health per camera; a streaming camera silent past its stall timeout reads as stalled."""
        now = time.monotonic()
        with self._lock:
            return {camera_id: self._health(camera_id, r, now) for camera_id, r in self._records.items()}

    @staticmethod
    def _health(camera_id: str, r: _Record, now: float) -> CameraHealth:
        age = None if r.last_frame_at is None else now - r.last_frame_at
        state = r.state
        silent = None if r.last_picture_at is None else now - r.last_picture_at
        stall_at, stall = r.last_stall_at, r.last_stall
        if state == StreamState.STREAMING and silent is not None and silent > r.stall_timeout_s:
            state = StreamState.STALLED  # the reader is still blocked waiting for its read timeout
            stall_at = time.time() - silent + r.stall_timeout_s
            stall = f"no undamaged picture for {silent:.1f} s (stall timeout {r.stall_timeout_s:g} s)"
        return CameraHealth(
            camera_id=camera_id,
            state=state,
            input_fps=r.input.per_second(now),
            analysed_fps=r.analysed.per_second(now),
            last_frame_age_s=age,
            reconnects=r.reconnects,
            last_error=r.last_error,
            dropped_frames=r.dropped,
            corrupt_packets=r.corrupt,
            damaged_pictures=r.damaged,
            decode=r.decode,
            gop_s=r.gop_s,
            decode_switches=r.decode_switches,
            width=r.width,
            height=r.height,
            last_stall_at=stall_at,
            last_stall=stall,
            retry_at=r.retry_at,
        )
