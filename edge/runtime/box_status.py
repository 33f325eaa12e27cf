"""What a box tells the platform about itself: the body of its retained MQTT status message.

The platform's fleet view needs, per box: what software and which models run (model files
named by the start of their sha256, so two boxes with the "same" model can be compared: the digest
its case messages report, edge/cases/rules.py),
each camera's stream state, how much the outbox holds back, and whether the disk is low.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge import __version__
from edge.cases.rules import model_versions
from edge.config import EdgeConfig
from edge.delivery.fleet import BoxStatus
from edge.delivery.outbox import Outbox
from edge.ingest.health import HealthRegistry
from edge.runtime.supervisor import StageState, SupervisionStatus


def model_files(config: EdgeConfig, model_ids: list[str]) -> list[dict[str, str]]:
    """The running models' files with their digest (the case messages' model version, less its prefix)."""
    versions = model_versions(config)
    return [
        {"id": m, "file": Path(config.model(m).path).name, "sha256": versions[m].removeprefix("sha256:")}
        for m in model_ids
    ]


class WorkerStatus(BoxStatus):
    """The worker's status for the fleet channel: cheap to call every `status_interval_s` (models hashed once)."""

    def __init__(
        self,
        config: EdgeConfig,
        model_ids: list[str],
        health: HealthRegistry,
        outbox: Outbox,
        supervision: Callable[[], SupervisionStatus],
    ) -> None:
        self.models = model_files(config, model_ids)
        self.health = health
        self.outbox = outbox
        self.supervision = supervision

    def __call__(self) -> dict[str, Any]:
        stats = self.outbox.stats()
        cameras = [
            {"id": camera_id, "state": str(h.state), "analysed_fps": round(h.analysed_fps, 2)}
            for camera_id, h in sorted(self.health.snapshot().items())
        ]
        return {
            "software_version": __version__,
            "models": self.models,
            "cameras": cameras,
            "outbox": {
                "pending": stats.pending,
                "dead": stats.dead,
                "blocked": stats.blocked,
                "oldest_pending_age_s": stats.oldest_pending_age_s,
            },
            "disk": {"state": stats.disk_state, "free_mb": round(stats.disk_free_mb)},
            "stages": stages_json(self.supervision()),
        }


def stages_json(status: SupervisionStatus) -> dict[str, Any]:
    """The supervised stages as the box status and /readyz report them: failed ones named, restarts counted."""
    return {
        "failed": [s.name for s in status.failed],
        "details": status.details(),
        "restarts": {s.name: s.restarts for s in status.stages if s.restarts},
        "finished": [s.name for s in status.stages if s.state is StageState.FINISHED],
    }
