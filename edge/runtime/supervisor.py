"""The stages' watchdog: restarts a stage thread that died or is wedged, within a budget.

Every long-running stage thread (each inference runner and the inference result thread, each camera's
stream thread, the patrol dispatcher, the delivery sender) beats a heartbeat (edge/heartbeat.py). Once
a second the supervisor looks at each:

- the thread ended although the worker runs (an exception its loop did not handle, or it returned)
  -> restarted, reason "died: <exception>" or "ended";
- its heartbeat has been quiet for longer than `worker.supervision.stall_s` (or the stage's own
  timeouts, when longer) -> wedged: a new thread is started in its place, reason "stalled"; the old
  one ends by itself should it ever wake;
- a camera whose file is over ended on purpose: finished, never restarted.

Each restart is logged (with the stage and reason) and counted (`edge_stage_restarts_total`). A stage
that needs more than `max_restarts` within `restart_window_s` is left down: the box is not ready
(`/readyz` 503 naming the stage, `edge_stage_failed` 1, the box status's `stages`) until the worker
is restarted, since a stage that keeps failing needs a person, not another try.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge

from edge.config.supervision import SupervisionConfig
from edge.delivery.sender import Sender
from edge.heartbeat import SupervisedThread
from edge.infer.engine import InferenceEngine
from edge.ingest.stream import CameraStream
from edge.runtime.patrol import PatrolScheduler

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0  # how often the supervisor looks (never less often than a quarter of stall_s)
FAILED_DETAIL = "stage {stage} failed: restarted {restarts} times within {window} s, last: {reason}"


class StageState(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # ended on purpose (a file camera's file is over)
    FAILED = "failed"  # past its restart budget: left down, the box is not ready


@dataclass(frozen=True, slots=True)
class StageStatus:
    """One supervised stage thread as an operator sees it."""

    name: str
    kind: str
    state: StageState
    restarts: int  # since the worker started
    last_reason: str | None
    last_restart_at: float | None  # unix time


@dataclass(frozen=True, slots=True)
class SupervisionStatus:
    stages: list[StageStatus]
    window_s: float

    @property
    def failed(self) -> list[StageStatus]:
        return [s for s in self.stages if s.state is StageState.FAILED]

    def details(self) -> list[str]:
        """One English line per failed stage (a catalogue template: edge/i18n/zh-CN.json)."""
        return [
            FAILED_DETAIL.format(stage=s.name, restarts=s.restarts, window=f"{self.window_s:g}", reason=s.last_reason)
            for s in self.failed
        ]


@dataclass(slots=True, eq=False)
class _Watch:
    thread: SupervisedThread
    recent: deque[float] = field(default_factory=deque)  # monotonic times of restarts within the window
    restarts: int = 0
    last_reason: str | None = None
    last_restart_at: float | None = None
    state: StageState = StageState.RUNNING


class Supervisor:
    """`watch(...)` the stage threads, `start()` once they run, `stop()` before they are stopped."""

    def __init__(self, settings: SupervisionConfig, registry: CollectorRegistry) -> None:
        self.settings = settings
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._restarts = Counter(
            "edge_stage_restarts",
            "Stage threads restarted by the supervisor, by stage, kind and reason (died, ended, stalled)",
            ["stage", "kind", "reason"],
            registry=registry,
        )
        self._failed = Gauge(
            "edge_stage_failed",
            "1 for a stage left down past its restart budget (the box is not ready)",
            ["stage", "kind"],
            registry=registry,
        )

    def watch(self, threads: Iterable[SupervisedThread]) -> None:
        with self._lock:
            for thread in threads:
                self._watches[thread.name] = _Watch(thread)
                self._failed.labels(stage=thread.name, kind=thread.kind).set(0)

    def thread(self, name: str) -> SupervisedThread:
        """The watched stage thread `name` (its heartbeat carries the test seam, edge/heartbeat.py)."""
        return self._watches[name].thread

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="edge-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No restart from now on (the worker is about to stop its stages)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        every = min(CHECK_EVERY_S, self.settings.stall_s / 4)
        while not self._stop.wait(every):
            try:
                self.check()
            except Exception:  # the watchdog must outlive a stage's faulty restart
                log.exception("stage supervision failed")

    def check(self) -> None:
        """One look at every stage: restart what died or is wedged, within the budget."""
        with self._lock:
            for watch in self._watches.values():
                if watch.state is not StageState.RUNNING or self._stop.is_set():
                    continue
                thread = watch.thread
                if not thread.alive() and thread.heartbeat.error is None and thread.done():
                    watch.state = StageState.FINISHED
                    continue
                reason = self._trouble(thread)
                if reason is not None:
                    self._restart(watch, reason)

    def _trouble(self, thread: SupervisedThread) -> str | None:
        """Why the stage needs a new thread; None while it runs and beats."""
        beat = thread.heartbeat
        if not thread.alive():
            return "ended" if beat.error is None else f"died: {beat.error}"
        stall = max(self.settings.stall_s, thread.longest_wait_s)
        quiet = beat.quiet_s()
        return f"stalled: no heartbeat for {quiet:.0f} s" if quiet > stall else None

    def _restart(self, watch: _Watch, reason: str) -> None:
        thread, now = watch.thread, time.monotonic()
        while watch.recent and now - watch.recent[0] > self.settings.restart_window_s:
            watch.recent.popleft()
        watch.last_reason = reason
        if len(watch.recent) >= self.settings.max_restarts:
            watch.state = StageState.FAILED
            self._failed.labels(stage=thread.name, kind=thread.kind).set(1)
            log.error(
                "stage left down: past its restart budget; the box is not ready",
                extra={"stage": thread.name, "kind": thread.kind, "reason": reason, "restarts": watch.restarts},
            )
            return
        watch.recent.append(now)
        watch.restarts += 1
        watch.last_restart_at = time.time()
        self._restarts.labels(stage=thread.name, kind=thread.kind, reason=reason.split(":")[0]).inc()
        log.warning(
            "stage restarted",
            extra={"stage": thread.name, "kind": thread.kind, "reason": reason, "restarts": watch.restarts},
        )
        thread.heartbeat.restarted()
        thread.restart()

    def status(self) -> SupervisionStatus:
        with self._lock:
            stages = [
                StageStatus(name, w.thread.kind, w.state, w.restarts, w.last_reason, w.last_restart_at)
                for name, w in sorted(self._watches.items())
            ]
        return SupervisionStatus(stages, self.settings.restart_window_s)


def stage_threads(
    inference: InferenceEngine, sender: Sender, streams: Iterable[CameraStream], patrol: PatrolScheduler | None
) -> list[SupervisedThread]:
    """Every long-running stage thread of a worker, for its supervisor."""
    delivery = SupervisedThread(
        sender.heartbeat,
        "delivery",
        sender.is_alive,
        partial(_restart_sender, sender),
        longest_wait_s=3 * sender.platform.timeout_s,  # one attempt: connect, send and read
    )
    threads = [*inference.supervised(), delivery, *(stream.supervised() for stream in streams)]
    return threads if patrol is None else [*threads, patrol.supervised()]


def _restart_sender(sender: Sender) -> None:
    sender.stop(timeout_s=0)  # a wedged thread is let go: it ends by itself once it wakes
    sender.start()
