"""One batched inference loop shared by every camera.

Cameras `submit` frames (never blocking); `runners` inference threads form per-model batches
across cameras (policies in `edge.infer.batching`) and run them in parallel (a claimed frame is
never claimed twice); a delivery thread calls each frame's `on_result` with all its models'
`Detections`, so a slow consumer never stalls inference. With one runner per core, a 2-core box
keeps both cores on the model when inference is the bottleneck (measured in bench/bench_cameras.py).

Back-pressure and staleness, by name:
- **Drop oldest per camera.** Each camera has at most `queue_per_camera` frames waiting; a new
  frame pushes out that camera's oldest waiting frame (counted as `dropped_overflow`).
- **Drop stale.** A frame whose `wall_time` is more than `staleness_s` old is dropped, not
  analysed late (counted per camera and per model as `dropped_stale`).
- **In-order delivery per camera.** A camera's results are delivered in submit order; a
  dropped frame is skipped, never delivered.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.config.model import InferenceConfig
from edge.heartbeat import Heartbeat, SupervisedThread, run_beating
from edge.infer.batching import Request, ResultCallback, plan_batch, waiting
from edge.infer.detector import Detector, crops_to_zones
from edge.infer.preprocess import check_image
from edge.types import Frame, Region

log = logging.getLogger(__name__)

IDLE_BEAT_S = 1.0  # an idle thread wakes this often to beat its heartbeat (edge/heartbeat.py)
STOP_WAIT_S = 30.0  # a stop waits this long for the threads (draining included), then leaves a wedged one behind


@dataclass(frozen=True, slots=True)
class ModelStats:
    batches: int
    frames: int
    batch_sizes: dict[int, int]  # histogram: batch size -> batches of that size
    inference_ms: float  # total time in detect (preprocess, run, decode)
    dropped_stale: int
    failed_batches: int


@dataclass(frozen=True, slots=True)
class CameraStats:
    submitted: int
    analysed: int  # delivered to on_result
    dropped_overflow: int
    dropped_stale: int
    waiting: int
    passed_through: int  # submitted without a model to run (change-gated), delivered in order


@dataclass(frozen=True, slots=True)
class EngineStats:
    models: dict[str, ModelStats]
    cameras: dict[str, CameraStats]
    callback_errors: int


class _Counts:
    """Mutable counters behind `EngineStats`, touched only under the engine lock."""

    def __init__(self, model_ids: Sequence[str]) -> None:
        self.batches = Counter[str]()
        self.frames = Counter[str]()
        self.sizes: dict[str, Counter[int]] = {m: Counter() for m in model_ids}
        self.ms = dict.fromkeys(model_ids, 0.0)
        self.stale_model = Counter[str]()
        self.failed = Counter[str]()
        self.submitted = Counter[str]()
        self.analysed = Counter[str]()
        self.overflow = Counter[str]()
        self.stale_camera = Counter[str]()
        self.passed = Counter[str]()
        self.callback_errors = 0


@dataclass(slots=True, eq=False)
class _Thread:
    """One of the engine's threads; a replacement retires it (it ends as soon as it wakes). A runner's
    `batch` is what it claimed and runs now: given up when a wedged runner is replaced."""

    thread: threading.Thread = field(init=False)
    retired: bool = False
    model_id: str = ""
    batch: list[Request] = field(default_factory=list)


class InferenceEngine:
    """The shared loop: `submit` frames, get `on_result(frame, {model_id: Detections})` back."""

    def __init__(self, detectors: dict[str, Detector], config: InferenceConfig) -> None:
        self._detectors = detectors
        self._config = config
        self._limits = {m: min(config.max_batch, d.preferred_batch) for m, d in detectors.items()}
        self._crops = {m: crops_to_zones(d, config) for m, d in detectors.items()}
        self._queues: dict[str, deque[Request]] = {}
        self._prioritised: set[str] = set()
        self._cond = threading.Condition()
        self._counts = _Counts(list(detectors))
        self._deliveries: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._state = "new"  # new -> running -> draining | stopping -> stopped
        self._runner_beats = [Heartbeat(f"edge-infer-{i}") for i in range(config.runners)]
        self._runners = [self._new_runner(i) for i in range(config.runners)]
        self._results_beat = Heartbeat("edge-infer-results")
        self._delivery = self._new_results()

    def _new_runner(self, index: int) -> _Thread:
        beat = self._runner_beats[index]
        runner = _Thread()
        body = functools.partial(self._infer_loop, runner, beat)
        runner.thread = threading.Thread(target=run_beating, args=(beat, body), name=beat.name, daemon=True)
        return runner

    def _new_results(self) -> _Thread:
        beat = self._results_beat
        results = _Thread()
        body = functools.partial(self._deliver_loop, results, beat)
        results.thread = threading.Thread(target=run_beating, args=(beat, body), name=beat.name, daemon=True)
        return results

    def start(self) -> None:
        with self._cond:
            if self._state != "new":
                raise RuntimeError(f"inference engine cannot start: it is {self._state}")
            self._state = "running"
        for thread in [*self._runners, self._delivery]:
            thread.thread.start()

    def stop(self, drain: bool = True) -> None:
        """Stop the threads; with `drain`, frames still fresh are analysed and delivered first."""
        with self._cond:
            if self._state in ("new", "stopped"):
                self._state = "stopped"
                return
            self._state = "draining" if drain else "stopping"
            self._cond.notify_all()
        deadline = time.monotonic() + STOP_WAIT_S
        for thread in [runner.thread for runner in self._runners]:
            _join(thread, deadline)
        self._deliveries.put(None)
        _join(self._delivery.thread, deadline)
        with self._cond:
            self._state = "stopped"

    def submit(
        self,
        frame: Frame,
        model_ids: Sequence[str],
        on_result: ResultCallback,
        priority: bool = False,
        region: Region | None = None,
    ) -> None:
        """Queue `frame` for `model_ids`; never blocks (a full camera queue drops its oldest frame).

        With no models the frame passes through: delivered with empty results right after the
        camera's earlier frames (a change-gated frame, a camera whose rules need no detector).
        `region`: the part of the frame the camera needs objects in (`Detector.detect`)."""
        check_image(frame.image, 0)
        unknown = sorted(set(model_ids) - set(self._detectors))
        if unknown:
            raise ValueError(
                f"frame of camera {frame.camera_id!r}: unknown models {unknown}; known: {sorted(self._detectors)}"
            )
        request = Request(frame, set(model_ids), on_result, priority, time.monotonic(), region=region)
        with self._cond:
            if self._state not in ("new", "running"):
                raise RuntimeError(f"inference engine is {self._state}; frames are no longer accepted")
            camera = frame.camera_id
            self._queues.setdefault(camera, deque()).append(request)
            self._counts.submitted[camera] += 1
            if not model_ids:
                self._counts.passed[camera] += 1
                self._flush(camera)
            excess = waiting(self._queues[camera])[: -self._config.queue_per_camera]
            for old in excess:
                self._drop(old, self._counts.overflow)
            self._cond.notify_all()

    def set_priority(self, camera_id: str, priority: bool) -> None:
        """Put a camera's frames ahead of others' (a candidate violation is in progress there)."""
        with self._cond:
            (self._prioritised.add if priority else self._prioritised.discard)(camera_id)

    def stats(self) -> EngineStats:
        with self._cond:
            c = self._counts
            models = {
                m: ModelStats(
                    c.batches[m],
                    c.frames[m],
                    dict(sorted(c.sizes[m].items())),
                    round(c.ms[m], 3),
                    c.stale_model[m],
                    c.failed[m],
                )
                for m in self._detectors
            }
            cameras = {
                cam: CameraStats(
                    c.submitted[cam],
                    c.analysed[cam],
                    c.overflow[cam],
                    c.stale_camera[cam],
                    len(waiting(self._queues.get(cam, ()))),
                    c.passed[cam],
                )
                for cam in sorted(c.submitted)
            }
            return EngineStats(models, cameras, c.callback_errors)

    # -- supervision (edge/runtime/supervisor.py) ----------------------------------------------

    def supervised(self) -> list[SupervisedThread]:
        """The runners and the result thread, for the worker's supervisor."""
        runners = [
            SupervisedThread(beat, "inference", functools.partial(self._alive, i), functools.partial(self.restart, i))
            for i, beat in enumerate(self._runner_beats)
        ]
        results = SupervisedThread(
            self._results_beat, "inference", functools.partial(self._alive, None), functools.partial(self.restart, None)
        )
        return [*runners, results]

    def _alive(self, runner: int | None) -> bool:
        thread = self._delivery if runner is None else self._runners[runner]
        return thread.thread.is_alive()

    def restart(self, runner: int | None) -> None:
        """Replace runner `runner` (None: the result thread) whose thread died or is wedged. The frames a
        replaced runner claimed are given up like a failed batch (their cameras' later frames go on);
        the old thread, should it wake, ends without touching anything."""
        with self._cond:
            if self._state != "running":
                return
            old = self._delivery if runner is None else self._runners[runner]
            old.retired = True
            if old.batch:
                self._counts.failed[old.model_id] += 1
                self._give_up(old.batch)
            if runner is None:
                self._delivery = self._new_results()
                new = self._delivery
            else:
                self._runners[runner] = new = self._new_runner(runner)
        new.thread.start()

    # -- inference thread ---------------------------------------------------------------------

    def _infer_loop(self, runner: _Thread, beat: Heartbeat) -> None:
        while True:
            beat.beat()  # outside the lock: a thread wedged here holds nothing
            with self._cond:
                if runner.retired:
                    return
                batch = self._next_batch()
                if batch is None:
                    return
                if not batch:
                    continue
                runner.model_id, runner.batch = batch
            self._run(runner, *batch)

    def _next_batch(self) -> tuple[str, list[Request]] | tuple[()] | None:
        """A batch that is due, claimed (holding the condition); () after waiting at most `IDLE_BEAT_S`
        for one; None once stopping and nothing is left."""
        if self._state == "stopping":
            return None
        self._drop_stale()
        draining = self._state == "draining"
        plan = plan_batch(
            self._queues,
            self._limits,
            self._prioritised,
            self._config.max_wait_ms / 1000,
            time.monotonic(),
            drain=draining,
        )
        if isinstance(plan, tuple):
            model_id, requests = plan
            for request in requests:
                request.pending.discard(model_id)
                request.running += 1
            return model_id, requests
        if plan is None and draining:
            return None
        self._cond.wait(timeout=IDLE_BEAT_S if plan is None else min(plan, IDLE_BEAT_S))
        return ()

    def _run(self, runner: _Thread, model_id: str, requests: list[Request]) -> None:
        started = time.perf_counter()
        try:
            regions = [r.region for r in requests] if self._crops[model_id] else None
            found = self._detectors[model_id].detect([r.frame.image for r in requests], regions)
        except Exception:  # a failing batch must not stop the loop for every camera
            log.exception("model %r failed on a batch of %d frames", model_id, len(requests))
            found = None
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._cond:
            if runner.retired:  # replaced while it ran: its frames were given up
                return
            runner.batch = []
            c = self._counts
            c.ms[model_id] += elapsed_ms
            if found is None:
                c.failed[model_id] += 1
                self._give_up(requests)
                return
            c.batches[model_id] += 1
            c.frames[model_id] += len(requests)
            c.sizes[model_id][len(requests)] += 1
            for request, detections in zip(requests, found, strict=True):
                request.running -= 1
                request.results[model_id] = detections
            for camera_id in {r.frame.camera_id for r in requests}:
                self._flush(camera_id)

    def _give_up(self, requests: list[Request]) -> None:
        """Claimed frames whose batch failed: never delivered, their cameras' later frames go on."""
        for request in requests:
            request.running -= 1
            request.pending.clear()
            self._remove(request)

    def _drop_stale(self) -> None:
        cutoff = time.time() - self._config.staleness_s
        for queue_ in self._queues.values():
            for request in [r for r in queue_ if r.pending and not r.running and r.frame.wall_time < cutoff]:
                for model_id in request.pending:
                    self._counts.stale_model[model_id] += 1
                self._drop(request, self._counts.stale_camera)

    def _drop(self, request: Request, counter: Counter[str]) -> None:
        counter[request.frame.camera_id] += 1
        self._remove(request)

    def _remove(self, request: Request) -> None:
        camera_id = request.frame.camera_id
        self._queues[camera_id].remove(request)
        self._flush(camera_id)

    def _flush(self, camera_id: str) -> None:
        """Hand the camera's completed head requests to the delivery thread, in submit order."""
        queue_ = self._queues[camera_id]
        while queue_ and queue_[0].complete:
            self._deliveries.put(queue_.popleft())
        self._cond.notify_all()

    # -- delivery thread ----------------------------------------------------------------------

    def _deliver_loop(self, results: _Thread, beat: Heartbeat) -> None:
        while True:
            beat.beat()
            if results.retired:
                return
            try:
                request = self._deliveries.get(timeout=IDLE_BEAT_S)
            except queue.Empty:
                continue
            if request is None:
                return
            try:
                request.on_result(request.frame, request.results)
            except Exception:  # one failing consumer must not silence the others
                log.exception("on_result failed for a frame of camera %r", request.frame.camera_id)
                with self._cond:
                    self._counts.callback_errors += 1
                continue
            with self._cond:
                self._counts.analysed[request.frame.camera_id] += 1


def _join(thread: threading.Thread, deadline: float) -> None:
    """Wait for `thread` until `deadline`; a wedged one (a daemon) is named and left, so a stop always ends."""
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        log.error("inference thread did not stop in time: left behind", extra={"stage": thread.name})
