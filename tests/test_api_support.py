"""A small, real implementation of the API's WorkerView for tests, built from the real stages.

Real frames decoded from streams/vtest.avi, the bundled detector run by the real shared
InferenceEngine, the real CameraPipeline (tracker, rules, cases) on a SQLite file, the real Outbox,
the real HealthRegistry and a ZoneStore that adopted streams/demo.yaml. Unlike the long-running worker it analyses one
frame when a test calls `step()`, so each test knows exactly which frame saw which zones.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from edge.api import create_app
from edge.cases import PlaceView, Quality, SuppressionView, VerdictRequest
from edge.cases.verify import Verification
from edge.config import CameraConfig, EdgeConfig, parse_config
from edge.delivery.outbox import Outbox
from edge.infer import Detector, load_detector
from edge.infer.engine import InferenceEngine
from edge.ingest import read_file_frames
from edge.ingest.health import HealthRegistry, StreamState
from edge.runtime import verdicts
from edge.runtime.metrics import WorkerMetrics
from edge.runtime.pipeline import CameraPipeline, GateCounts, LiveView
from edge.runtime.routing import ask
from edge.runtime.supervisor import SupervisionStatus, Supervisor
from edge.runtime.worker import CameraStatus
from edge.scene import TamperStatus
from edge.types import CaseMessage, Detections, Frame
from edge.zones.store import ZoneStore

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "streams" / "demo.yaml"
CLIP = REPO / "streams" / "vtest.avi"
CAMERA = "campus-north"
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENV = {"EDGE_API_TOKEN": TOKEN}
TOP_RIGHT = [[0.8, 0.04], [1.0, 0.04], [1.0, 0.26], [0.8, 0.26]]  # the parked van and car
BOTTOM_LEFT = [[0.0, 0.86], [0.2, 0.86], [0.2, 1.0], [0.0, 1.0]]  # grass: nothing parks there


@functools.cache
def clip_frames(count: int = 24) -> tuple[Frame, ...]:
    """The clip's first `count` frames at 2 per media second (decoded once per test session)."""
    frames = read_file_frames(CLIP, CAMERA, 2.0)
    return tuple(frame for _, frame in zip(range(count), frames, strict=False))


@functools.cache
def detector() -> Detector:
    return load_detector(demo_config(REPO / "var" / "unused").models[0])


def demo_config(storage: Path, **api: Any) -> EdgeConfig:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["storage"]["dir"] = str(storage)
    data["api"] = api
    return parse_config(data, DEMO.parent, origin=str(DEMO))


class PipelineWorker:
    """WorkerView over real stages; `step()` analyses the clip's next frame through all of them."""

    def __init__(self, root: Path, **api: Any) -> None:
        self.zone_store = ZoneStore(root / "zones.json")
        self.config, versions = self.zone_store.adopt(demo_config(root / "var", **api))
        self.detectors = {"coco": detector()}
        self.inference = InferenceEngine(self.detectors, self.config.inference)
        self.outbox = Outbox(root / "outbox.db")
        self.metrics = CollectorRegistry()
        self.events = WorkerMetrics(self.metrics)
        self.health = HealthRegistry()
        self.supervisor = Supervisor(self.config.worker.supervision, self.metrics)  # watches, never started here
        self.supervisor.watch(self.inference.supervised())
        names = {mid: d.class_names for mid, d in self.detectors.items()}
        self.pipeline = CameraPipeline(
            self.config, CAMERA, root / "state.db", names, self._deliver, zone_version=versions[CAMERA]
        )
        self.latest: Frame | None = None
        self.recent: deque[CaseMessage] = deque(maxlen=200)
        self.applied: list[int] = []
        self._frames: Iterator[Frame] = iter(clip_frames())
        self._done = threading.Event()
        self.ready = False

    def start(self) -> PipelineWorker:
        self.health.register(CAMERA, self.config.camera(CAMERA).source.stall_timeout_s)
        self.health.transition(CAMERA, StreamState.CONNECTING)
        self.health.transition(CAMERA, StreamState.STREAMING)
        self.inference.start()
        self.ready = True
        return self

    def close(self) -> None:
        self.ready = False
        self.inference.stop()
        self.pipeline.close()
        self.outbox.close()

    # -- one analysed frame ------------------------------------------------------------------
    def step(self, count: int = 1) -> list[CaseMessage]:
        """Analyse the next `count` frames; returns the messages they caused."""
        before = len(self.recent)
        for _ in range(count):
            frame = dataclasses.replace(next(self._frames), wall_time=time.time())
            self.latest = frame
            self._done.clear()
            self.inference.submit(frame, ["coco"], self._on_result)
            if not self._done.wait(60):
                raise RuntimeError("the inference engine did not deliver the frame")
        return list(self.recent)[before:]

    def _on_result(self, frame: Frame, detections: dict[str, Detections]) -> None:
        self.pipeline.analyse(frame, detections)
        self.health.analysed(CAMERA, frame.width, frame.height)
        self.events.frame_analysed(frame, time.time())
        self._done.set()

    def _deliver(self, message: CaseMessage) -> None:
        self.outbox.put(message)
        self.events.message_queued(message)
        self.recent.append(message)

    # -- WorkerView --------------------------------------------------------------------------
    def camera_health(self) -> dict[str, CameraStatus]:
        stats = self.inference.stats().cameras
        gate = GateCounts(0, 0, 0)
        return {cid: CameraStatus(h, stats.get(cid), gate, TamperStatus()) for cid, h in self.health.snapshot().items()}

    def patrol_status(self) -> None:
        return None

    def supervision(self) -> SupervisionStatus:
        return self.supervisor.status()

    def latest_frame(self, camera_id: str) -> Frame | None:
        return self.latest if camera_id == CAMERA else None

    def live_view(self, camera_id: str) -> LiveView | None:
        return self.pipeline.live_view() if camera_id == CAMERA else None

    def recent_messages(self, limit: int) -> list[CaseMessage]:
        return list(self.recent)[-limit:][::-1]

    def prepare_camera(self, camera: CameraConfig) -> None:
        pass  # its pipeline reads no plates

    def apply_camera(self, camera: CameraConfig, zone_version: int) -> None:
        self.pipeline.reload(camera, zone_version)
        self.applied.append(zone_version)

    def rebase_scene(self, camera_id: str) -> bool:
        return False  # this pipeline runs no scene model: the API answers 409

    def verify(self, case_id: str, request_id: str | None = None) -> Verification:
        return ask([self.pipeline], self.config.verification, case_id, request_id)

    def judge(self, case_id: str, request: VerdictRequest) -> dict[str, Any]:
        return verdicts.judge([self.pipeline], self.config.worker.id, case_id, request)

    def quality(self) -> list[Quality]:
        return verdicts.quality([self.pipeline])

    def suppressions(self) -> dict[str, list[SuppressionView]]:
        return verdicts.suppressions([self.pipeline])

    def remove_suppression(self, suppression_id: str) -> bool:
        return verdicts.remove_suppression([self.pipeline], suppression_id)

    def rule_places(self, zone_id: str) -> list[PlaceView]:
        """Candidate places the case engine is timing in a zone (what its last frame saw)."""
        zones = [z for z in self.pipeline.snapshot().zones if z.zone_id == zone_id]
        return [p for z in zones for r in z.rules for p in r.places]


def client_for(worker: PipelineWorker, **kwargs: Any) -> TestClient:
    app = create_app(worker, worker.zone_store, env=ENV, **kwargs)
    return TestClient(app, headers=AUTH)


def zone(zone_id: str, polygon: list[list[float]], **rule: Any) -> dict[str, Any]:
    """A zone with one vehicle dwell rule, as an operator would send it."""
    base = {"id": "parked", "kind": "dwell", "event_code": "0505", "classes": ["car", "truck", "bus"]}
    return {"id": zone_id, "name": zone_id, "polygon": polygon, "rules": [base | {"min_duration_s": 20} | rule]}
