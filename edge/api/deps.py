"""What the operator API needs from the running worker, as a small structural Protocol.

`edge.runtime.worker.Worker` satisfies it; the API never reaches into the worker's internals,
so it can be served from any process that offers these few members. Zones and rules are read
from and saved to the `ZoneStore` (the single authority for them); `apply_camera` only hands an
already validated and persisted camera to the running analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from edge.cases import Quality, SuppressionView, VerdictRequest, Verification
from edge.config import CameraConfig, EdgeConfig
from edge.delivery.outbox import Outbox
from edge.infer.engine import EngineStats
from edge.runtime.patrol import PatrolStatus
from edge.runtime.pipeline import LiveView
from edge.runtime.supervisor import SupervisionStatus
from edge.runtime.worker import CameraStatus
from edge.types import CaseMessage, Frame


class StatsSource(Protocol):
    def stats(self) -> EngineStats: ...


class ClassNames(Protocol):
    @property
    def class_names(self) -> list[str]: ...


class WorkerView(Protocol):
    """The worker as the API sees it; every member must be safe to call from API threads."""

    @property
    def config(self) -> EdgeConfig:
        """Models, events and cameras (the cameras' zones are the ZoneStore's)."""

    @property
    def detectors(self) -> Mapping[str, ClassNames]:
        """Loaded models by id: rules may only count the classes of a loaded model."""

    @property
    def inference(self) -> StatsSource:
        """The shared inference loop: batch sizes, inference time, drops (for /metrics)."""

    @property
    def outbox(self) -> Outbox:
        """The durable outbox: status, dead letters, resend and discard."""

    @property
    def metrics(self) -> CollectorRegistry:
        """Metrics the worker updates as things happen (see `edge.runtime.metrics.WorkerMetrics`)."""

    @property
    def ready(self) -> bool:
        """True once every stage is started and until shutdown begins, unless a stage is past its restart budget."""

    def supervision(self) -> SupervisionStatus:
        """Each supervised stage thread's state and restarts (edge/runtime/supervisor.py)."""

    def camera_health(self) -> dict[str, CameraStatus]:
        """Per running camera: stream health, its inference queue and its tamper state."""

    def patrol_status(self) -> PatrolStatus | None:
        """The box's patrol and each patrol camera's visits; None when no camera is patrolled."""

    def latest_frame(self, camera_id: str) -> Frame | None:
        """The camera's newest decoded frame, or None before the first one."""

    def live_view(self, camera_id: str) -> LiveView | None:
        """What the camera's rules saw on its latest analysed frame; None when not running or before it."""

    def recent_messages(self, limit: int) -> list[CaseMessage]:
        """Up to `limit` recent case messages, newest first, with their pictures."""

    def prepare_camera(self, camera: CameraConfig) -> None:
        """Load what the camera's edited rules need (the plate reader) before the edit is saved; ModelError
        when it cannot be loaded, so a refused edit writes nothing."""

    def apply_camera(self, camera: CameraConfig, zone_version: int) -> None:
        """Hot-apply a camera's zones and rules: they take effect on its next analysed frame."""

    def rebase_scene(self, camera_id: str) -> bool:
        """Re-learn the camera's reference view (ends a "moved" tamper); False without a scene model."""

    def verify(self, case_id: str, request_id: str | None = None) -> Verification:
        """Look at a case now (bounded wait); the answer is also the case's next message."""

    def judge(self, case_id: str, request: VerdictRequest) -> dict[str, Any]:
        """Store the platform's verdict on a case (raises edge.cases.VerdictError); the stored answer."""

    def quality(self) -> list[Quality]:
        """Cases, verdicts and precision per camera, zone and rule."""

    def suppressions(self) -> dict[str, list[SuppressionView]]:
        """Per camera: the objects the platform rejected that start no candidate."""

    def remove_suppression(self, suppression_id: str) -> bool:
        """Forget one suppression; False when no camera has it."""
