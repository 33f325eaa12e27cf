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

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from edge.config.model import InferenceConfig
from edge.infer.batching import Request, ResultCallback, plan_batch, waiting
from edge.infer.detector import Detector, crops_to_zones
from edge.infer.preprocess import check_image
from edge.types import Frame, Region

log = logging.getLogger(__name__)


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
        self._runners = [
            threading.Thread(target=self._infer_loop, name=f"edge-infer-{i}", daemon=True)
            for i in range(config.runners)
        ]
        self._delivery = threading.Thread(target=self._deliver_loop, name="edge-infer-results", daemon=True)

    def start(self) -> None:
        with self._cond:
            if self._state != "new":
                raise RuntimeError(f"inference engine cannot start: it is {self._state}")
            self._state = "running"
        for thread in [*self._runners, self._delivery]:
            thread.start()

    def stop(self, drain: bool = True) -> None:
        """Stop the threads; with `drain`, frames still fresh are analysed and delivered first."""
        with self._cond:
            if self._state in ("new", "stopped"):
                self._state = "stopped"
                return
            self._state = "draining" if drain else "stopping"
            self._cond.notify_all()
        for runner in self._runners:
            runner.join()
        self._deliveries.put(None)
        self._delivery.join()
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

    # -- inference thread ---------------------------------------------------------------------

    def _infer_loop(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
            model_id, requests = batch
            self._run(model_id, requests)

    def _next_batch(self) -> tuple[str, list[Request]] | None:
        """Wait (holding the condition) until a batch is due; None once stopping and nothing is left."""
        while True:
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
            self._cond.wait(timeout=plan)

    def _run(self, model_id: str, requests: list[Request]) -> None:
        started = time.perf_counter()
        try:
            regions = [r.region for r in requests] if self._crops[model_id] else None
            found = self._detectors[model_id].detect([r.frame.image for r in requests], regions)
        except Exception:  # a failing batch must not stop the loop for every camera
            log.exception("model %r failed on a batch of %d frames", model_id, len(requests))
            found = None
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._cond:
            c = self._counts
            c.ms[model_id] += elapsed_ms
            if found is None:
                c.failed[model_id] += 1
            else:
                c.batches[model_id] += 1
                c.frames[model_id] += len(requests)
                c.sizes[model_id][len(requests)] += 1
            for request, detections in zip(requests, found or [None] * len(requests), strict=True):
                request.running -= 1
                if detections is None:
                    request.pending.clear()
                    self._remove(request)
                else:
                    request.results[model_id] = detections
            for camera_id in {r.frame.camera_id for r in requests}:
                self._flush(camera_id)

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

    def _deliver_loop(self) -> None:
        while (request := self._deliveries.get()) is not None:
            try:
                request.on_result(request.frame, request.results)
            except Exception:  # one failing consumer must not silence the others
                log.exception("on_result failed for a frame of camera %r", request.frame.camera_id)
                with self._cond:
                    self._counts.callback_errors += 1
                continue
            with self._cond:
                self._counts.analysed[request.frame.camera_id] += 1
