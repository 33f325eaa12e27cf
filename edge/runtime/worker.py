"""The long-running worker: every configured camera, one shared inference loop, durable delivery.

    CameraStream (thread per camera) -> InferenceEngine (one loop, batches across cameras)
        -> CameraPipeline per camera (tracker, scene model, rules, cases) -> Outbox (SQLite) -> Sender (HTTP)

Each camera's pipeline runs on the inference loop's result thread and locks itself, so a zone edit
applied through the API lands between two analysed frames. A start that fails (a rule naming a
class the model lacks, a model that does not load) fails before anything is written to storage.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from edge.cases import Quality, SuppressionView, VerdictRequest, check_rule, models_for
from edge.cases.verify import Verification
from edge.config import CameraConfig, EdgeConfig, InferenceConfig
from edge.delivery.outbox import Outbox
from edge.delivery.platform import open_connection, open_fleet, open_sink
from edge.delivery.sender import Sender
from edge.infer import Detector
from edge.infer.engine import CameraStats, InferenceEngine
from edge.ingest.health import CameraHealth, HealthRegistry
from edge.ingest.stream import CameraStream
from edge.runtime import verdicts
from edge.runtime.box_status import WorkerStatus
from edge.runtime.clips import ClipAttacher, clip_ring
from edge.runtime.memory import fix_mmap_threshold
from edge.runtime.metrics import WorkerMetrics
from edge.runtime.patrol import PatrolScheduler, PatrolStatus
from edge.runtime.patrol_status import CameraPatrolStatus
from edge.runtime.pipeline import CameraPipeline, GateCounts, LiveView, load_detectors
from edge.runtime.plates import PlateAttacher, PlateService, plates_wanted
from edge.runtime.routing import answer_command, ask, verify_command
from edge.runtime.supervisor import SupervisionStatus, Supervisor, stage_threads
from edge.scene import TamperStatus
from edge.types import CaseMessage, Detections, Frame

log = logging.getLogger(__name__)
RECENT_CASES = 200


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """One running camera as an operator sees it: stream health, inference queue, change gate and tamper state."""

    health: CameraHealth
    inference: CameraStats | None
    gate: GateCounts
    tamper: TamperStatus
    mode: str = "day"  # the camera's picture as the scene model reads it: day, low_light or infrared
    mode_changes: int = 0
    patrol: CameraPatrolStatus | None = None  # a patrol camera's visits (None: a continuous camera)

    @property
    def dropped_frames(self) -> int:
        """Frames that were never analysed: dropped by the stream, or on the way to inference."""
        dropped = self.health.dropped_frames
        if self.inference is not None:
            dropped += self.inference.dropped_overflow + self.inference.dropped_stale
        return dropped


def check_cameras(config: EdgeConfig, cameras: Sequence[CameraConfig], detectors: Mapping[str, Detector]) -> None:
    """Compile every rule against the loaded models' classes: ConfigError before anything is written."""
    events = {e.code: e for e in config.events}
    names = {model_id: list(d.class_names) for model_id, d in detectors.items()}
    for camera in cameras:
        for placed in camera.rules():
            check_rule(camera.id, placed.zone, placed.rule, events, names)


def patrol_inference(inference: InferenceConfig, cameras: Sequence[CameraConfig]) -> InferenceConfig:
    """A camera queue deep enough for a whole visit: a visit's few pictures are all it has until the next one
    (a continuous camera drops its oldest frame for a newer one; a patrol camera has no newer one)."""
    visit = max((c.analysis.pictures_per_visit for c in cameras if c.analysis.mode == "patrol"), default=0)
    if visit <= inference.queue_per_camera:
        return inference
    return inference.model_copy(update={"queue_per_camera": visit})


class Worker:
    """Owns the stages and their threads; `start()`, then `stop()` closes everything cleanly."""

    def __init__(
        self,
        config: EdgeConfig,
        zone_versions: Mapping[str, int] | None = None,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        """`zone_versions`: each camera's current zone version (from the zone store), recorded in its cases."""
        fix_mmap_threshold(config.worker.mmap_threshold_kb)  # before the threads start allocating pictures
        self.config = config
        cameras = [c for c in config.cameras if c.enabled]
        self.detectors = load_detectors(config, sorted({m for c in cameras for m in models_for(c)}))
        check_cameras(config, cameras, self.detectors)
        # one plate reader thread for all cameras; a bad model is a ModelError before anything is written
        self.plates = PlateService(config, start=plates_wanted(config))  # else started by the first plate rule
        self.metrics = metrics or CollectorRegistry()
        self.events = WorkerMetrics(self.metrics)
        storage = Path(config.storage.dir)
        storage.mkdir(parents=True, exist_ok=True)
        self.inference = InferenceEngine(self.detectors, patrol_inference(config.inference, cameras))
        self.health = HealthRegistry()
        self.outbox = Outbox.from_config(config.storage)  # disk-pressure watermarks and the reserve
        self.supervisor = Supervisor(config.worker.supervision, self.metrics)  # restarts dead or wedged stages
        self.box_status = WorkerStatus(config, sorted(self.detectors), self.health, self.outbox, self.supervisor.status)
        commands = functools.partial(  # the platform's requests over MQTT
            answer_command,
            {
                "verify": functools.partial(verify_command, self.verify),
                "verdict": functools.partial(verdicts.verdict_command, self.judge),
            },
        )
        # MQTT: one broker session, shared by the case sink and the fleet channel (commands in, status out)
        self.connection = open_connection(config.platform, config.worker.id)
        self.fleet = open_fleet(self.connection, config.worker.id, status=self.box_status, commands=commands)
        sink = open_sink(config.platform, config.worker.id, connection=self.connection)
        self.sender = Sender(self.outbox, config.platform, sink)
        self.recent: deque[CaseMessage] = deque(maxlen=RECENT_CASES)
        self._recent_lock = threading.Lock()
        self._latest: dict[str, Frame] = {}
        names = {mid: det.class_names for mid, det in self.detectors.items()}
        clip = config.evidence.clip
        rings = {c.id: clip_ring(clip) for c in cameras if c.clip}  # bounded per camera (docs/evidence.md)
        # each camera's pipeline first re-delivers what a crash kept from the outbox last time
        self.pipelines = {
            c.id: CameraPipeline(
                config,
                c.id,
                storage / "state" / f"{c.id}.db",
                names,
                self._deliver,
                (zone_versions or {}).get(c.id, 1),
                may_open_cases=self.outbox.disk.may_open_cases,
                no_space=self.outbox.disk.note_no_space,
                clips=ClipAttacher(rings[c.id], clip, wall_bound=True) if c.id in rings else None,
                plates=PlateAttacher(self.plates, config, c, wall_bound=True),
            )
            for c in cameras
        }
        streamed = [c for c in cameras if c.analysis.mode == "continuous"]
        self.streams = {c.id: CameraStream(c, self._on_frame, self.health, packets=rings.get(c.id)) for c in streamed}
        patrolled = [c for c in cameras if c.analysis.mode == "patrol"]  # visited in turn (edge/runtime/patrol.py)
        self.patrol = (
            # a patrol camera keeps no decoded frame between visits: its latest is its live view's picture
            PatrolScheduler(config, patrolled, self.pipelines, self.inference, self.health, self._admit)
            if patrolled
            else None
        )
        self.supervisor.watch(stage_threads(self.inference, self.sender, self.streams.values(), self.patrol))
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.inference.start()
        self.sender.start()
        if self.fleet is not None:
            self.fleet.start()
        for stream in self.streams.values():
            stream.start()
        if self.patrol is not None:
            self.patrol.start()
        self.supervisor.start()
        self._running = True
        patrolled = [] if self.patrol is None else sorted(self.patrol.status().cameras)
        log.info(
            "worker started", extra={"cameras": list(self.streams), "patrol": patrolled, "models": list(self.detectors)}
        )

    def stop(self) -> None:
        """Streams first (no new frames), then drain inference, then close state and delivery.

        Always finishes, a full disk included: a message the outbox cannot take stays in its camera's
        state file (logged by id, handed off at the next start), and the sender records what the
        platform acknowledged or names what it could not record. Also closes a worker that never
        started (e.g. the API refused to run without a token)."""
        was_running, self._running = self._running, False
        self.supervisor.stop()  # nothing is restarted while the stages stop
        for camera_id, stream in self.streams.items():
            if not stream.stop(timeout=10.0):
                log.warning("camera stream did not stop in time", extra={"camera": camera_id})
        if self.patrol is not None:
            self.patrol.stop()
        self.inference.stop(drain=True)
        self.plates.close()  # the readings under way finish: the messages waiting for them go with their plate
        for camera_id, pipeline in self.pipelines.items():
            pipeline.finish()  # cases waiting for their clip go with what the ring holds
            held = pipeline.held_message_ids()
            if held:
                log.error(
                    "messages kept in the camera's state file, not in the outbox: they go at the next start",
                    extra={"camera": camera_id, "message_ids": held},
                )
            faults = pipeline.held_fault_ids()
            if faults:
                log.error(
                    "device faults not delivered: lost at this stop, the camera is judged afresh at the next start",
                    extra={"camera": camera_id, "message_ids": faults},
                )
            pipeline.close()
        self.sender.close()
        if self.fleet is not None:
            self.fleet.close()  # the goodbye goes on the connection, which closes after it
        if self.connection is not None:
            self.connection.stop()
        self.outbox.close()
        if was_running:
            log.info("worker stopped")

    @property
    def ready(self) -> bool:
        """Started, not stopping, and no stage left down past its restart budget."""
        return self._running and not self.supervisor.status().failed

    def supervision(self) -> SupervisionStatus:
        """Each supervised stage thread: running, finished or failed, and its restarts."""
        return self.supervisor.status()

    # -- the data flow -----------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        self._latest[frame.camera_id] = frame
        self._admit(frame)

    def _admit(self, frame: Frame) -> None:
        # no models: the change gate reuses the last detections, or only class-agnostic rules run;
        # the frame still goes through the engine so the camera's frames are analysed in order
        admission = self.pipelines[frame.camera_id].admit(frame)
        self.inference.submit(frame, admission.models, self.analyse, region=admission.region)

    def analyse(self, frame: Frame, detections: dict[str, Detections]) -> None:
        """The camera's pipeline on one analysed frame (the inference engine's result callback)."""
        pipeline = self.pipelines[frame.camera_id]
        pipeline.analyse(frame, detections)
        self.events.frame_analysed(frame, time.time())
        self.inference.set_priority(frame.camera_id, pipeline.timing_candidates())

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
    def camera_health(self) -> dict[str, CameraStatus]:
        stats = self.inference.stats()
        pipelines = self.pipelines
        patrol = {} if self.patrol is None else self.patrol.status().cameras
        return {
            camera_id: CameraStatus(
                health,
                stats.cameras.get(camera_id),
                pipelines[camera_id].gate_counts,
                pipelines[camera_id].tamper,
                *pipelines[camera_id].camera_mode,
                patrol=patrol.get(camera_id),
            )
            for camera_id, health in self.health.snapshot().items()
        }

    def patrol_status(self) -> PatrolStatus | None:
        """The box's patrol (visit rates, achieved revisit, overload) and each patrol camera's; None without one."""
        return None if self.patrol is None else self.patrol.status()

    def latest_frame(self, camera_id: str) -> Frame | None:
        """The camera's newest decoded frame; a patrol camera's latest analysed visit picture."""
        frame = self._latest.get(camera_id)
        view = self.live_view(camera_id) if frame is None else None
        return frame if view is None else view.frame

    def live_view(self, camera_id: str) -> LiveView | None:
        pipeline = self.pipelines.get(camera_id)
        return None if pipeline is None else pipeline.live_view()

    def recent_messages(self, limit: int) -> list[CaseMessage]:
        with self._recent_lock:
            return list(self.recent)[-limit:][::-1]

    def prepare_camera(self, camera: CameraConfig) -> None:
        """Load what the camera's edited rules need before the edit is saved: the plate reader (ModelError)."""
        if any(placed.rule.plates for placed in camera.rules()):
            self.plates.start()

    def apply_camera(self, camera: CameraConfig, zone_version: int) -> None:
        """Hot-apply a camera's zones and rules: takes effect on its next analysed frame (and the
        decode decision at the next key frame: a quick rule may need every frame)."""
        self.pipelines[camera.id].reload(camera, zone_version)
        if camera.id in self.streams:
            self.streams[camera.id].apply(camera)
        elif self.patrol is not None:
            self.patrol.apply(camera)

    def rebase_scene(self, camera_id: str) -> bool:
        """Take the camera's current view as its new reference (after a deliberate re-aim).

        False when the camera is not running or has no scene model."""
        pipeline = self.pipelines.get(camera_id)
        return pipeline is not None and pipeline.rebase_scene()

    def verify(self, case_id: str, request_id: str | None = None) -> Verification:
        """Look at a case now (bounded by `verification.timeout_s`); the answer is also the case's next message."""
        return ask(self.pipelines.values(), self.config.verification, case_id, request_id)

    # -- the platform's verdicts (edge/runtime/verdicts.py) ------------------------------------
    def judge(self, case_id: str, request: VerdictRequest) -> dict[str, Any]:
        """Store the platform's verdict on a case (raises VerdictError); the answer as API and MQTT give it."""
        return verdicts.judge(self.pipelines.values(), self.config.worker.id, case_id, request)

    def quality(self) -> list[Quality]:
        return verdicts.quality(self.pipelines.values())

    def suppressions(self) -> dict[str, list[SuppressionView]]:
        return verdicts.suppressions(self.pipelines.values())

    def remove_suppression(self, suppression_id: str) -> bool:
        return verdicts.remove_suppression(self.pipelines.values(), suppression_id)
