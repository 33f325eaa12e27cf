"""The box's patrol scheduler: visits its patrol cameras in turn, a few at a time.

    dispatcher thread: the camera due first -> a free visit slot (at most `patrol.max_concurrent_visits`,
        and none while inference is behind on visit pictures (`_inference_behind`): a visit's
        pictures are all its camera has until the next one, so a busy box starts visits late, which
        its achieved revisit shows, rather than let pictures go stale in the queue and drop them)
    visit thread: stream_visit / snapshot_visit -> each picture -> the worker's frame hand-off (shared
        InferenceEngine -> the camera's own CameraPipeline, as a live frame)
    the pipeline is told where a visit begins and ends through the same in-order inference queue, so
    `end_visit` runs after the visit's last picture was analysed (or dropped)

A camera is due by `VisitPlan` (its revisit interval with jitter, earlier when a rule can decide). A
failed visit (refused, hung, garbage, no key frame) is counted, named in health, and the camera is
backed off in whole revisit intervals, doubling up to FAILURE_BACKOFF_MAX (`VisitPlan.retry_after`,
edge/backoff.py's rule); its slot is free as soon as the visit gives up, so it never delays another
camera. A box that cannot visit its cameras in time says so (`status().box.overloaded`, logged once
per change); it never stretches the interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from edge.config import CameraConfig, EdgeConfig
from edge.config.patrol import revisit_s
from edge.heartbeat import Heartbeat, SupervisedThread, run_beating
from edge.infer.engine import InferenceEngine
from edge.ingest.health import HealthRegistry, StreamState
from edge.ingest.snapshot import snapshot_auth, snapshot_visit
from edge.ingest.visit import Capture, VisitOutcome, stream_visit
from edge.runtime.patrol_plan import VisitPlan
from edge.runtime.patrol_status import OVERDUE_SHARE, BoxPatrolStatus, CameraPatrolStatus, PatrolStats
from edge.runtime.pipeline import CameraPipeline
from edge.types import Frame

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
BACKLOG_BATCHES = 2  # no visit starts while this many full batches of visit pictures wait for inference,
BACKLOG_AGE_SHARE = 0.5  # or while one has waited this share of `inference.staleness_s`
CHECK_EVERY_S = 10.0  # the dispatcher looks at the box's status this often (logs overload as it begins)


@dataclass(slots=True)
class _Camera:
    config: CameraConfig
    plan: VisitPlan
    due: float
    auth: httpx.Auth | None = None
    in_flight: bool = False
    resumed: bool = True  # no visit has seen it since this run started, or since its last failure
    visits: int = 0
    failed_visits: int = 0
    consecutive_failures: int = 0
    last_outcome: VisitOutcome | None = None
    last_error: str | None = None
    index: int = 0  # analysed-frame sequence number
    decision_at: float | None = None  # when a rule could next confirm or clear, as of the last analysed visit


@dataclass(frozen=True, slots=True)
class PatrolStatus:
    box: BoxPatrolStatus
    cameras: dict[str, CameraPatrolStatus]


class PatrolScheduler:
    """One per box: `start()`, `stop()`, `status()`. `on_frame` gets each visit picture (the worker's hand-off)."""

    def __init__(
        self,
        config: EdgeConfig,
        cameras: Sequence[CameraConfig],
        pipelines: Mapping[str, CameraPipeline],
        inference: InferenceEngine,
        health: HealthRegistry,
        on_frame: Callable[[Frame], None],
    ) -> None:
        """Raises ConfigError when a snapshot camera's password variable is not set (before anything runs)."""
        self._settings = config.patrol
        self._pipelines = pipelines
        self._inference = inference
        self._health = health
        self._on_frame = on_frame
        self._epoch = time.time()  # media time of patrol pictures: seconds since the scheduler started
        now = time.time()
        self._cameras: dict[str, _Camera] = {}
        for camera in cameras:
            plan = VisitPlan(camera.id, revisit_s(camera), self._settings.jitter)
            entry = _Camera(camera, plan, plan.first_due(now, spread=True))
            if camera.source.kind == "snapshot":
                entry.auth = snapshot_auth(camera)
            self._cameras[camera.id] = entry
            health.register(camera.id, camera.analysis.visit_timeout_s, "keyframes")
        self._stats = PatrolStats()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._in_flight = 0
        self._waiting: dict[int, float] = {}  # visit pictures handed to inference, not yet analysed (or dropped)
        self._backlog = BACKLOG_BATCHES * config.inference.max_batch
        self._backlog_age_s = BACKLOG_AGE_SHARE * config.inference.staleness_s
        self._overloaded = False
        self._client = httpx.Client(follow_redirects=False)
        limit = self._settings.max_concurrent_visits
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="edge-visit")
        self.heartbeat = Heartbeat("edge-patrol")  # the worker's supervisor watches the dispatcher
        self._dispatcher = self._new_dispatcher()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._dispatcher.start()

    def _new_dispatcher(self) -> threading.Thread:
        return threading.Thread(
            target=run_beating, args=(self.heartbeat, self._dispatch), name="edge-patrol", daemon=True
        )

    def supervised(self) -> SupervisedThread:
        """The dispatcher thread for the worker's supervisor (edge/runtime/supervisor.py)."""
        return SupervisedThread(self.heartbeat, "patrol", lambda: self._dispatcher.is_alive(), self._restart)

    def _restart(self) -> None:
        """A new dispatcher in place of one that died or is wedged; the old one ends once it wakes."""
        if not self._stop.is_set():
            self._dispatcher = self._new_dispatcher()
            self._dispatcher.start()

    def stop(self) -> None:
        """No new visit; visits in flight give up their stream at once (their pictures so far are analysed)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._dispatcher.is_alive():
            self._dispatcher.join()
        self._pool.shutdown(wait=True)
        self._client.close()

    def apply(self, camera: CameraConfig) -> None:
        """A camera's edited zones and rules: its revisit interval is derived again from them."""
        with self._cond:
            entry = self._cameras.get(camera.id)
            if entry is not None:
                entry.config = entry.config.model_copy(update={"zones": camera.zones})
                entry.plan.revisit_s = revisit_s(entry.config)

    # -- what operators read -----------------------------------------------------------------------
    def status(self) -> PatrolStatus:
        now = time.time()
        with self._cond:
            cameras = {cid: self._camera_status(c, now) for cid, c in self._cameras.items()}
            overdue = sum(1 for c in cameras.values() if c.overdue)
            targets = [c.plan.revisit_s for c in self._cameras.values()]
            box = self._stats.box(len(cameras), self._settings.max_concurrent_visits, self._in_flight, overdue, targets)
        if box.overloaded != self._overloaded:
            self._overloaded = box.overloaded
            (log.warning if box.overloaded else log.info)(box.detail, extra={"overdue": box.overdue})
        return PatrolStatus(box, cameras)

    def _camera_status(self, c: _Camera, now: float) -> CameraPatrolStatus:
        last = c.last_outcome
        late = now - c.due
        return CameraPatrolStatus(
            camera_id=c.config.id,
            kind=c.config.source.kind,
            revisit_s=c.plan.revisit_s,
            visits=c.visits,
            failed_visits=c.failed_visits,
            consecutive_failures=c.consecutive_failures,
            last_visit_at=None if last is None else last.started,
            last_visit_s=None if last is None else round(last.duration_s, 3),
            last_pictures=0 if last is None else last.pictures,
            last_error=c.last_error,
            next_due_at=None if c.in_flight else c.due,
            in_flight=c.in_flight,
            overdue=not c.in_flight and late > OVERDUE_SHARE * c.plan.revisit_s,
        )

    # -- dispatching -------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            self.heartbeat.beat()
            if self._dispatcher is not threading.current_thread():  # replaced while wedged
                return
            if time.monotonic() - checked >= CHECK_EVERY_S:
                checked = time.monotonic()
                self.status()
            with self._cond:
                entry = self._next_ready()
                if entry is None:
                    continue
                entry.in_flight = True
                self._in_flight += 1
                started = time.time()
                previous = None if entry.consecutive_failures else entry.plan.last_start  # not a back-off
                self._stats.visit_started(started, previous, entry.plan.revisit_s)
                entry.plan.started(started)
            self._pool.submit(self._visit, entry)
        self.status()  # a last word on overload in the log

    def _next_ready(self) -> _Camera | None:
        """The camera due first once it is due and a slot is free (waits on the condition); None to look again."""
        if self._in_flight >= self._settings.max_concurrent_visits or self._inference_behind():
            self._cond.wait(IDLE_WAIT_S)
            return None
        waiting = [c for c in self._cameras.values() if not c.in_flight]
        if not waiting:
            self._cond.wait(IDLE_WAIT_S)
            return None
        first = min(waiting, key=lambda c: c.due)
        wait = first.due - time.time()
        if wait > 0:
            self._cond.wait(min(wait, IDLE_WAIT_S))
            return None
        return first

    # -- one visit (a pool thread) -----------------------------------------------------------------
    def _visit(self, entry: _Camera) -> None:
        camera = entry.config
        self._health.transition(camera.id, StreamState.CONNECTING)
        taken: list[Frame] = []  # the visit's last picture carries its end through the inference queue

        def took(capture: Capture) -> None:
            frame = Frame(camera.id, capture.image, capture.wall_time - self._epoch, capture.wall_time, entry.index)
            entry.index += 1
            if not taken:
                self._health.transition(camera.id, StreamState.STREAMING)
                resumed = entry.resumed
                self._inference.submit(frame, [], lambda _f, _d: self._pipelines[camera.id].begin_visit(resumed))
            self._health.analysed(camera.id, frame.width, frame.height)
            with self._cond:
                self._waiting[id(frame)] = frame.wall_time
            self._on_frame(frame)
            self._inference.submit(frame, [], self._picture_done)  # after the picture: analysed or dropped
            taken[:] = [frame]

        try:
            if camera.source.kind == "snapshot":
                outcome = snapshot_visit(camera, self._client, entry.auth, took, self._stop)
            else:
                outcome = stream_visit(camera, took, self._stop)
        except Exception as exc:  # a bug must not end the patrol: the visit failed
            log.exception("camera %s: unexpected error during a visit", camera.id)
            outcome = VisitOutcome(camera.id, time.time(), error=f"internal error: {exc!r}")
        self._health.progress(camera.id, outcome.packets, outcome.pictures, outcome.corrupt, outcome.damaged)
        if not outcome.failed:  # before the camera may be visited again: visits end in order
            self._inference.submit(taken[0], [], lambda _f, _d: self._visit_analysed(entry))
            self._health.transition(camera.id, StreamState.STOPPED)
        with self._cond:
            self._finished(entry, outcome)
            if outcome.failed:
                self._health.transition(camera.id, StreamState.BACKOFF, outcome.error, retry_at=entry.due)
            self._in_flight -= 1
            entry.in_flight = False
            self._cond.notify_all()
        if outcome.failed:
            log.warning("camera %s: visit failed: %s", camera.id, outcome.error)

    def _inference_behind(self) -> bool:
        """Visit pictures wait for inference: two full batches, or one for half the time before it goes stale."""
        now = time.time()
        for lost in [key for key, taken in self._waiting.items() if now - taken > 4 * self._backlog_age_s]:
            del self._waiting[lost]  # stale twice over: its answer went with a replaced inference thread
        waiting = self._waiting.values()
        return len(waiting) >= self._backlog or (bool(waiting) and now - min(waiting) > self._backlog_age_s)

    def _picture_done(self, frame: Frame, _detections: Mapping[str, object]) -> None:
        with self._cond:
            self._waiting.pop(id(frame), None)
            self._cond.notify_all()

    def _finished(self, entry: _Camera, outcome: VisitOutcome) -> None:
        entry.last_outcome = outcome
        entry.visits += 1
        if outcome.failed:
            entry.failed_visits += 1
            entry.consecutive_failures += 1
            entry.last_error = outcome.error
            entry.resumed = True  # the time it could not be seen is not watched
            entry.due = time.time() + entry.plan.retry_after(entry.consecutive_failures)
        else:
            entry.consecutive_failures = 0
            entry.last_error = None
            entry.resumed = False
            entry.due = entry.plan.next_due(entry.decision_at)

    def _visit_analysed(self, entry: _Camera) -> None:
        """The visit's pictures have all been analysed (inference delivery thread): judge the visit."""
        pipeline = self._pipelines[entry.config.id]
        pipeline.end_visit()
        decision = pipeline.decision_due()
        with self._cond:
            entry.decision_at = decision
            if not entry.in_flight and entry.consecutive_failures == 0:
                entry.due = entry.plan.next_due(decision)
                self._cond.notify_all()
