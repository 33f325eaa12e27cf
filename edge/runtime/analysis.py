"""Per-camera analysis: detections of one analysed frame -> case messages -> the sink (the outbox).

Shared by replay and the live worker so both run exactly the same decisions: the tracker, rules,
dedup and evidence live in the case engine; this class only knows which models a camera needs, hands
the engine its inputs and hands the engine's messages on. The engine keeps each message in its state
file until the sink has taken it, so a crash between the two never loses one: on start, whatever
the last run did not hand off is handed off first (the outbox stores a message id once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from edge.cases import CaseEngine, CaseStore
from edge.config import CameraConfig, EdgeConfig
from edge.infer import Detector, load_detector
from edge.types import CaseMessage, Detections, Frame

MessageSink = Callable[[CaseMessage], None]  # stores a message durably (Outbox.put) before returning


def models_for(camera: CameraConfig) -> list[str]:
    """Model ids the camera's enabled rules use: a model runs only on cameras that need it."""
    return sorted({r.model for z in camera.zones for r in z.rules if r.enabled and r.kind != "static_object"})


def load_detectors(config: EdgeConfig, model_ids: Sequence[str]) -> dict[str, Detector]:
    """The named models, loaded once: replay and the worker share them across cameras."""
    return {model_id: load_detector(config.model(model_id)) for model_id in model_ids}


class CameraAnalysis:
    """Rules and cases for one camera, with its state in a SQLite file that survives restarts."""

    def __init__(
        self,
        config: EdgeConfig,
        camera_id: str,
        state_path: Path,
        class_names: Mapping[str, Sequence[str]],
        sink: MessageSink,
        zone_version: int = 1,
    ) -> None:
        self.camera = config.camera(camera_id)
        self.model_ids = models_for(self.camera)
        self.sink = sink
        state_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = CaseStore(state_path)
        self.engine = CaseEngine(
            config, camera_id, self.store, {k: list(v) for k, v in class_names.items()}, zone_version=zone_version
        )
        self.hand_off()  # messages a crash kept from the sink last time

    def step(
        self, frame: Frame, detections: Mapping[str, Detections], static_objects: Detections | None = None
    ) -> list[CaseMessage]:
        """Analyse one frame and hand its messages to the sink; returns this frame's messages."""
        messages = self.engine.process(frame, dict(detections), static_objects)
        self.hand_off()
        return messages

    def hand_off(self) -> None:
        """Sink every message the engine still holds, in order, then let the engine forget them.

        Includes any that a failing sink left behind on an earlier frame, so order is kept.
        """
        pending = self.engine.pending_messages()
        for message in pending:
            self.sink(message)
        self.engine.handed_off([m.message_id for m in pending])

    def close(self) -> None:
        self.store.close()
