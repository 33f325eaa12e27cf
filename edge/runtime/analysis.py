"""Per-camera analysis: detections of one analysed frame -> case messages.

Shared by replay and the live worker so both run exactly the same decisions: the tracker, rules,
dedup and evidence live in the case engine; this class only knows which models a camera needs and
hands the engine its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from edge.cases import CaseEngine, CaseStore
from edge.config import CameraConfig, EdgeConfig
from edge.types import CaseMessage, Detections, Frame


def models_for(camera: CameraConfig) -> list[str]:
    """Model ids the camera's enabled rules use: a model runs only on cameras that need it."""
    return sorted({r.model for z in camera.zones for r in z.rules if r.enabled and r.kind != "static_object"})


class CameraAnalysis:
    """Rules and cases for one camera, with its state in a SQLite file that survives restarts."""

    def __init__(
        self,
        config: EdgeConfig,
        camera_id: str,
        state_path: Path,
        class_names: Mapping[str, Sequence[str]],
        zone_version: int = 1,
    ) -> None:
        self.camera = config.camera(camera_id)
        self.model_ids = models_for(self.camera)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = CaseStore(state_path)
        self.engine = CaseEngine(
            config, camera_id, self.store, {k: list(v) for k, v in class_names.items()}, zone_version=zone_version
        )

    def step(
        self, frame: Frame, detections: Mapping[str, Detections], static_objects: Detections | None = None
    ) -> list[CaseMessage]:
        return self.engine.process(frame, dict(detections), static_objects)

    def close(self) -> None:
        self.store.close()
