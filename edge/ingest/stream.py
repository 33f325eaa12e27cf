"""One camera, its own thread: connect, decode, sample, hand off; reconnect with backoff on any failure.

The loop is an explicit state machine (see `health.TRANSITIONS`):

    STOPPED -> CONNECTING -> STREAMING -> (end of a live stream, error) -> BACKOFF -> CONNECTING ...
                                       -> (no picture / no data for the timeout) -> STALLED -> BACKOFF
               CONNECTING -> (opened, but no first picture within the timeout) -> STALLED -> BACKOFF
    a looping file reopens at once (STREAMING -> CONNECTING); a plain file ends in STOPPED.

A camera that is offline at start just sits in BACKOFF/CONNECTING; it never blocks or fails the
others. While backing off, one TCP connect a second (`RECONNECT_PROBE_S`, closed at once) watches
the camera's address: when an address that stopped answering answers again, the camera reconnects
at once, so it is back within about a second of being reachable however long the backoff has
grown; a camera that answers TCP all along but fails above it (a hung server, a bad path) waits
its backoff out, so a broken camera is never hammered with sessions.
`Frame.media_time` stays monotonic across reconnects: each new session continues from the last
one plus the wall-clock gap, so downstream persistence sees the outage as time passing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import av

from edge.backoff import Backoff
from edge.config import CameraConfig
from edge.heartbeat import Heartbeat, SupervisedThread, run_beating
from edge.ingest.decode import DecodeMode, DecodeStats, FrameDecoder, GopMeter, Picture, StreamStalled
from edge.ingest.errors import SourceError
from edge.ingest.health import HealthRegistry, StreamState
from edge.ingest.packets import PacketRing
from edge.ingest.policy import choose_decode
from edge.ingest.source import SourcePlan, describe_error, open_source, plan_source, reachable
from edge.types import Frame

log = logging.getLogger(__name__)

RECONNECT_PROBE_S = 1.0  # while an unreachable camera backs off: one TCP connect this often
BEAT_S = 1.0  # a waiting camera thread beats its heartbeat this often (edge/heartbeat.py)


class MediaClock:
    """Maps session media time to camera media time that never goes backwards across sessions."""

    def __init__(self) -> None:
        self._offset: float | None = None
        self._last: float | None = None
        self._last_at = 0.0

    def new_session(self) -> None:
        self._offset = None

    def __call__(self, session_time: float, now: float) -> float:
        if self._offset is None:
            gap = max(now - self._last_at, 1e-3)
            self._offset = 0.0 if self._last is None else self._last + gap - session_time
        self._last, self._last_at = session_time + self._offset, now
        return self._last


class CameraStream:
    """Reads one camera on a daemon thread and calls `on_frame` with each analysed frame.

    `on_frame` runs on the camera's thread and must not block (the worker gives it
    `InferenceEngine.submit`, which drops a lagging camera's oldest frame instead of waiting).
    """

    def __init__(
        self,
        camera: CameraConfig,
        on_frame: Callable[[Frame], None],
        health: HealthRegistry,
        backoff: Backoff | None = None,
        packets: PacketRing | None = None,
    ) -> None:
        """`packets`: keeps the camera's recent compressed packets for evidence clips."""
        self.camera = camera
        self._packets = packets
        self._plan: SourcePlan = plan_source(camera.source)
        self._on_frame = on_frame
        self._health = health
        self._backoff = backoff or Backoff(camera.source.backoff_initial_s, camera.source.backoff_max_s)
        self._stop = threading.Event()  # the current thread's; a replaced thread keeps its own, set
        self._thread: threading.Thread | None = None
        self._finished = False  # the source ended (a file that does not loop): nothing to restart
        self.heartbeat = Heartbeat(f"camera-{camera.id}")
        self._clock = MediaClock()
        self._index = 0
        self._gop = GopMeter()  # what is known of the camera's GOP, across sessions
        self._rules = camera  # the zones and rules the decode decision weighs (hot-applied by `apply`)
        self._reported = DecodeStats()  # decoder counts already fed to health
        health.register(camera.id, camera.source.stall_timeout_s, choose_decode(camera, None))

    @property
    def camera_id(self) -> str:
        return self.camera.id

    def apply(self, camera: CameraConfig) -> None:
        """Take the camera's new zones and rules (hot-applied by the worker): the decode decision is
        taken again at the next key frame, so a rule that needs every frame gets them from there."""
        if camera.id != self.camera.id:
            raise ValueError(f"camera {self.camera.id}: cannot take the config of camera {camera.id}")
        self._rules = self.camera.model_copy(update={"zones": camera.zones})

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"camera {self.camera.id}: already started")
        self._start_thread()

    def _start_thread(self) -> None:
        stop = self._stop
        body = lambda: self._run(stop)  # noqa: E731
        thread = threading.Thread(
            target=run_beating, args=(self.heartbeat, body), name=self.heartbeat.name, daemon=True
        )
        thread.start()
        self._thread = thread  # only once it runs: the supervisor must never see it created but not started

    def restart(self) -> None:
        """A new thread in place of one that died or is wedged (the supervisor's call). The old thread's
        stop is set: once it wakes, it closes its connection and ends without reporting anything."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._stop = threading.Event()
        self._start_thread()

    def supervised(self) -> SupervisedThread:
        """The camera's thread for the worker's supervisor: its own timeouts bound its quiet spells."""
        source = self.camera.source
        quiet = source.open_timeout_s + max(source.read_timeout_s, source.stall_timeout_s) + BEAT_S
        return SupervisedThread(self.heartbeat, "camera", self._running_or_not_started, self.restart, self._done, quiet)

    def _running_or_not_started(self) -> bool:
        """A camera not started yet (a staggered start) is not a dead one."""
        return self._thread is None or self._thread.is_alive()

    def _done(self) -> bool:
        return self._finished

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to finish and wait; False if it is still stuck in a blocking read after `timeout`.

        A blocked read returns within the camera's read timeout, after which the thread closes the
        container and ends by itself.
        """
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "camera %s: still blocked in a read %.1f s after stop; it ends by itself", self.camera.id, timeout
            )
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _transition(self, state: StreamState, error: str | None = None, retry_at: float | None = None) -> None:
        self._health.transition(self.camera.id, state, error, retry_at)

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                self._transition(StreamState.CONNECTING)
                if self._session(stop):
                    self._finished = not stop.is_set()
                    break
        finally:
            if stop is self._stop:  # a replaced thread leaves the state to its successor
                self._transition(StreamState.STOPPED)

    def _pause(self, stop: threading.Event, seconds: float) -> bool:
        """Wait `seconds` (beating); True when stopped meanwhile."""
        deadline = time.monotonic() + seconds
        while not stop.wait(max(0.0, min(BEAT_S, deadline - time.monotonic()))):
            self.heartbeat.beat()
            if time.monotonic() >= deadline:
                return False
        return True

    def _wait_backoff(self, stop: threading.Event, error: str) -> None:
        """Wait out the backoff; cut it short when an address that did not answer answers again."""
        delay = self._backoff.next_delay()
        log.warning("camera %s: %s; reconnecting in %.1f s", self.camera.id, error, delay)
        self._transition(StreamState.BACKOFF, error, retry_at=time.time() + delay)
        deadline = time.monotonic() + delay
        address = self._plan.address
        if address is None:  # a file: nothing to probe
            self._pause(stop, delay)
            return
        # Only a return counts: an address that answers all along failed above TCP (a hung server),
        # and reconnecting to it early would just fail again.
        was_down = not reachable(address)
        while not stop.wait(max(0.0, min(RECONNECT_PROBE_S, deadline - time.monotonic()))):
            self.heartbeat.beat()
            if time.monotonic() >= deadline:
                return
            up = reachable(address)
            if up and was_down:
                log.info("camera %s: %s answers again; reconnecting now", self.camera.id, self._plan.label)
                return
            was_down = was_down or not up

    def _session(self, stop: threading.Event) -> bool:
        """Connect once and stream until the source ends or fails; True when the camera is done."""
        try:
            container = open_source(self._plan, self.camera.source)
        except SourceError as exc:
            self._wait_backoff(stop, str(exc))
            return False
        started: float | None = None
        decoder = self._decoder(container)
        try:
            with container:
                for picture in decoder:
                    self.heartbeat.beat()
                    if stop.is_set():
                        return True
                    if started is None:
                        started = time.monotonic() - picture.media_time
                        self._reported = DecodeStats()
                        self._clock.new_session()
                        self._transition(StreamState.STREAMING)
                    self._report(decoder, picture)
                    if self._plan.paced and self._pause(stop, started + picture.media_time - time.monotonic()):
                        return True
                    if picture.sampled:
                        self._emit(picture)
            if stop.is_set():
                return True
        except (StreamStalled, av.error.ExitError) as exc:
            reason = str(exc) if isinstance(exc, StreamStalled) else describe_error(exc, self.camera.source)
            self._transition(StreamState.STALLED, f"{self._plan.label}: stalled: {reason}")
            self._streamed(started)
            self._wait_backoff(stop, f"{self._plan.label}: stalled: {reason}")
            return False
        except (av.FFmpegError, OSError) as exc:
            self._streamed(started)
            self._wait_backoff(stop, f"{self._plan.label}: {describe_error(exc, self.camera.source)}")
            return False
        except Exception as exc:  # a bug must not kill the camera: log it, back off, try again
            log.exception("camera %s: unexpected error while streaming", self.camera.id)
            self._streamed(started)
            self._wait_backoff(stop, f"{self._plan.label}: internal error: {exc!r}")
            return False
        self._streamed(started)
        if self._plan.on_end == "finish":
            if started is None:
                error = f"{self._plan.label}: ended without a decodable picture"
                log.warning("camera %s: %s", self.camera.id, error)
                self._transition(StreamState.STOPPED, error)
            else:
                log.info("camera %s: %s ended", self.camera.id, self._plan.label)
            return True
        if self._plan.on_end == "reopen" and started is not None:
            return False
        self._wait_backoff(stop, f"{self._plan.label}: stream ended" if started else f"{self._plan.label}: no picture")
        return False

    def _decoder(self, container: av.container.InputContainer) -> FrameDecoder:
        return FrameDecoder(
            container,
            self.camera.analysis.fps,
            self._decide(self._gop.gop_s),  # a new session starts as the last one ended
            choose=self._decide,
            gop=self._gop,
            stall_timeout_s=self.camera.source.stall_timeout_s,
            packets=self._packets,
        )

    def _decide(self, gop_s: float | None) -> DecodeMode:
        """The decode mode for a settled GOP and the current rules, told to health as soon as it is taken."""
        mode = choose_decode(self._rules, gop_s)
        self._health.decoding(self.camera.id, mode, gop_s)
        return mode

    def _report(self, decoder: FrameDecoder, picture: Picture) -> None:
        """Feed health what the decoder counted since the previous picture."""
        now, then = decoder.stats, self._reported
        self._health.progress(
            self.camera.id,
            now.packets - then.packets,
            0 if picture.damaged else 1,
            now.corrupt - then.corrupt,
            now.damaged - then.damaged,
        )
        self._reported = dataclasses.replace(now)

    def _emit(self, picture: Picture) -> None:
        image = picture.bgr()
        media_time = self._clock(picture.media_time, time.monotonic())
        if self._packets is not None:
            self._packets.anchor(picture.frame.pts, media_time)
        frame = Frame(self.camera.id, image, media_time, time.time(), self._index, picture.is_keyframe)
        self._index += 1
        self._health.analysed(self.camera.id, frame.width, frame.height)
        try:
            self._on_frame(frame)
        except Exception:  # a failing consumer must not take the camera down
            log.exception("camera %s: on_frame failed", self.camera.id)

    def _streamed(self, started: float | None) -> None:
        if started is not None:
            self._backoff.streamed(time.monotonic() - started)
