"""The long-running worker: every configured camera, one shared inference loop, durable delivery.

    CameraStream (thread per camera) -> InferenceEngine (one loop, batches across cameras)
        -> per-camera analysis (scene model, tracker, rules, cases) -> Outbox (SQLite) -> Sender (HTTP)

The analysis of one camera runs under that camera's lock, on the engine's result thread, so a
zone edit applied through the API lands between two analysed frames. A tampered camera (moved,
covered, blurred) has its zones paused and reports a device fault instead of street cases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from edge.api.metrics import WorkerMetrics
from edge.config import CameraConfig, EdgeConfig
from edge.delivery.outbox import Outbox, outbox_path
from edge.delivery.sender import Sender
from edge.infer import Detector
from edge.infer.engine import InferenceEngine
from edge.ingest.health import HealthRegistry
from edge.ingest.stream import CameraStream
from edge.runtime.analysis import CameraAnalysis, MessageSink, load_detectors, models_for
from edge.runtime.faults import FaultReporter
from edge.scene import SceneModel
from edge.types import CaseMessage, Detections, Frame

log = logging.getLogger(__name__)
RECENT_CASES = 200


class CameraRuntime:
    """Everything the worker keeps for one camera besides its stream."""

    def __init__(
        self,
        config: EdgeConfig,
        camera: CameraConfig,
        state_dir: Path,
        detectors: dict[str, Detector],
        sink: MessageSink,
        zone_version: int,
    ):
        self.lock = threading.Lock()
        self.class_names = {mid: det.class_names for mid, det in detectors.items()}
        self.analysis = CameraAnalysis(
            config, camera.id, state_dir / f"{camera.id}.db", self.class_names, sink, zone_version=zone_version
        )
        self.scene = SceneModel(camera.id, config.scene) if config.scene.enabled else None
        self.faults = FaultReporter(config, camera)
        self.latest: Frame | None = None

    @property
    def model_ids(self) -> list[str]:
        return self.analysis.model_ids


class Worker:
    """Owns the stages and their threads; `start()`, then `stop()` closes everything cleanly."""

    def __init__(
        self,
        config: EdgeConfig,
        zone_versions: Mapping[str, int] | None = None,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        """`zone_versions`: each camera's current zone version (from the zone store), recorded in its cases."""
        self.config = config
        self.metrics = metrics or CollectorRegistry()
        self.events = WorkerMetrics(self.metrics)
        storage = Path(config.storage.dir)
        storage.mkdir(parents=True, exist_ok=True)
        cameras = [c for c in config.cameras if c.enabled]
        needed = sorted({m for c in cameras for m in models_for(c)})
        self.detectors = load_detectors(config, needed)
        self.engine = InferenceEngine(self.detectors, config.inference)
        self.health = HealthRegistry()
        self.outbox = Outbox(
            outbox_path(config.storage), max_mb=config.storage.max_outbox_mb, min_free_mb=config.storage.min_free_mb
        )
        self.sender = Sender(self.outbox, config.platform)
        self.recent: deque[CaseMessage] = deque(maxlen=RECENT_CASES)
        self._recent_lock = threading.Lock()
        # each camera's analysis first re-delivers what a crash kept from the outbox last time
        self.cameras = {
            c.id: CameraRuntime(
                config, c, storage / "state", self.detectors, self._deliver, (zone_versions or {}).get(c.id, 1)
            )
            for c in cameras
        }
        self.streams = {c.id: CameraStream(c, self._on_frame, self.health) for c in cameras}
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.engine.start()
        self.sender.start()
        for stream in self.streams.values():
            stream.start()
        self._running = True
        log.info("worker started", extra={"cameras": list(self.streams), "models": list(self.detectors)})

    def stop(self) -> None:
        """Streams first (no new frames), then drain inference, then close state and delivery.

        Also closes a worker that never started (e.g. the API refused to run without a token)."""
        was_running, self._running = self._running, False
        for camera_id, stream in self.streams.items():
            if not stream.stop(timeout=10.0):
                log.warning("camera stream did not stop in time", extra={"camera": camera_id})
        self.engine.stop(drain=True)
        for runtime in self.cameras.values():
            with runtime.lock:
                runtime.analysis.close()
        self.sender.stop()
        self.sender.close()
        self.outbox.close()
        if was_running:
            log.info("worker stopped")

    @property
    def ready(self) -> bool:
        return self._running

    # -- the data flow -----------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        runtime = self.cameras[frame.camera_id]
        runtime.latest = frame
        if runtime.model_ids:
            self.engine.submit(frame, runtime.model_ids, self.analyse)
        else:  # only class-agnostic rules: no detector needed
            self.analyse(frame, {})

    def analyse(self, frame: Frame, detections: dict[str, Detections]) -> None:
        """Scene, rules and cases for one analysed frame (the inference engine's result callback)."""
        runtime = self.cameras[frame.camera_id]
        with runtime.lock:
            self._analyse(runtime, frame, detections)
            self.events.frame_analysed(frame, time.time())
            self.engine.set_priority(frame.camera_id, runtime.analysis.engine.timing_candidates())

    def _analyse(self, runtime: CameraRuntime, frame: Frame, detections: dict[str, Detections]) -> None:
        """Scene check, then rules; every message goes to `_deliver` (the analysis hands off its own)."""
        static_objects = None
        if runtime.scene is not None:
            # static objects take their class from the camera's first model in config order
            model_id = next((m.id for m in self.config.models if m.id in detections), None)
            dets = detections[model_id] if model_id else Detections.empty()
            names = runtime.class_names.get(model_id, []) if model_id else []
            update = runtime.scene.update(frame, dets, names)
            static_objects = update.static_objects
            fault = runtime.faults.observe(frame, update.tamper)
            if fault is not None:
                log.warning(
                    "camera view changed",
                    extra={"camera": frame.camera_id, "tamper": update.tamper.kind, "detail": update.tamper.detail},
                )
                self._deliver(fault)
            if update.tamper.active:
                return  # zones paused: a moved or covered view makes every zone meaningless
        runtime.analysis.step(frame, detections, static_objects)

    def _deliver(self, message: CaseMessage) -> None:
        self.outbox.put(message)  # durable before anything else sees it
        self.events.message_queued(message)
        with self._recent_lock:
            self.recent.append(message)
        log.info(
            "case message queued",
            extra={"case_id": message.case_id, "seq": message.seq, "kind": message.kind},
        )

    # -- what the API reads ------------------------------------------------------------------
    def camera_health(self) -> dict[str, dict[str, Any]]:
        stats = self.engine.stats()
        out: dict[str, dict[str, Any]] = {}
        for camera_id, health in self.health.snapshot().items():
            runtime = self.cameras[camera_id]
            entry = asdict(health)
            engine_stats = stats.cameras.get(camera_id)
            entry["inference"] = asdict(engine_stats) if engine_stats else None
            if engine_stats:  # frames dropped on the way to inference: overflow (drop oldest) and stale
                entry["dropped_frames"] += engine_stats.dropped_overflow + engine_stats.dropped_stale
            entry["tamper"] = {"kind": runtime.faults.status.kind, "detail": runtime.faults.status.detail}
            out[camera_id] = entry
        return out

    def latest_frame(self, camera_id: str) -> Frame | None:
        runtime = self.cameras.get(camera_id)
        return runtime.latest if runtime else None

    def recent_messages(self, limit: int) -> list[CaseMessage]:
        with self._recent_lock:
            return list(self.recent)[-limit:][::-1]

    def apply_camera(self, camera: CameraConfig, zone_version: int) -> None:
        """Hot-apply a camera's zones and rules: takes effect on its next analysed frame."""
        runtime = self.cameras[camera.id]
        with runtime.lock:
            runtime.analysis.engine.reload(camera, zone_version)
            runtime.analysis.model_ids = models_for(camera)

    def rebase_scene(self, camera_id: str) -> bool:
        """Take the camera's current view as its new reference (after a deliberate re-aim).

        False when the camera is not running or has no scene model."""
        runtime = self.cameras.get(camera_id)
        if runtime is None or runtime.scene is None:
            return False
        with runtime.lock:
            runtime.scene.rebase()
        return True
