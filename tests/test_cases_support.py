"""Scripted detection sequences for the case engine: a tiny config, frames, and a runner.

No model is needed: each script step says which boxes (pixels, class name, score) the detector
reported at a media time, and the real engine with a real SQLite file in tmp_path does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge.cases import CaseEngine, CaseStore
from edge.config import EdgeConfig, parse_config
from edge.types import CaseMessage, Detections, Frame

REPO = Path(__file__).resolve().parents[1]
NAMES = ["person", "bicycle", "car", "motorcycle", "bus", "truck", "umbrella", "chair", "dining table"]
W, H = 320, 240
EPOCH = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday (08:00 in Asia/Shanghai)
ZONE = [[0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [0.5, 0.5]]  # top-right quarter: x 160..319, y 0..119

Box = tuple[float, float, float, float, str, float]  # x1, y1, x2, y2, class name, score


def make_config(
    rules: Sequence[dict[str, Any]],
    polygon: Sequence[Sequence[float]] = ZONE,
    top: dict[str, Any] | None = None,
    **camera: Any,
) -> EdgeConfig:
    data = {
        "worker": {"id": "edge-test"},
        "models": [{"id": "coco", "path": str(REPO / "models" / "centernet-mbv3-coco.onnx")}],
        "cameras": [
            {
                "id": "cam1",
                "name": "Test street",
                "source": {"url": "clip.avi"},
                "location": {
                    "longitude": 121.47,
                    "latitude": 31.23,
                    "address": "1 Test Rd",
                    "grid_code": "310101001001001",
                },
                "zones": [
                    {"id": "z1", "name": "No parking", "polygon": [list(p) for p in polygon], "rules": list(rules)}
                ],
                **camera,
            }
        ],
    }
    return parse_config(data | (top or {}), REPO)


def rule(**fields: Any) -> dict[str, Any]:
    base = {"id": "r1", "kind": "dwell", "event_code": "0505", "classes": ["car", "truck", "bus"]}
    base.update(min_score=0.3, min_duration_s=20, gap_allowance_s=5, clear_after_s=10)
    return base | fields


def detections(boxes: Iterable[Box]) -> Detections:
    boxes = list(boxes)
    if not boxes:
        return Detections.empty()
    return Detections(
        np.array([b[:4] for b in boxes], np.float32),
        np.array([b[5] for b in boxes], np.float32),
        np.array([NAMES.index(b[4]) for b in boxes], np.int32),
    )


def frame(t: float, epoch: float = EPOCH, index: int = 0) -> Frame:
    image = np.full((H, W, 3), 90, np.uint8)
    image[::16] = 140  # some texture so JPEGs are not trivial
    return Frame("cam1", image, t, epoch + t, index)


class Run:
    """An engine on a SQLite file; `play` feeds a script and collects every message."""

    def __init__(self, config: EdgeConfig, db: Path) -> None:
        self.store = CaseStore(db)
        self.engine = CaseEngine(config, "cam1", self.store, {"coco": NAMES})
        self.messages: list[CaseMessage] = []

    def step(
        self, t: float, boxes: Iterable[Box] = (), epoch: float = EPOCH, static: Detections | None = None
    ) -> list[CaseMessage]:
        out = self.engine.process(frame(t, epoch), {"coco": detections(boxes)}, static)
        self.messages += out
        return out

    def play(
        self, start: float, stop: float, boxes: Iterable[Box] = (), step: float = 0.5, epoch: float = EPOCH
    ) -> None:
        boxes = list(boxes)
        for t in np.arange(start, stop, step):
            self.step(float(t), boxes, epoch)

    def kinds(self) -> list[tuple[str, str]]:
        return [(m.kind, m.case_id) for m in self.messages]

    def close(self) -> None:
        self.store.close()


CAR: Box = (200, 40, 260, 90, "car", 0.6)  # anchor (230, 90): inside the zone
VAN: Box = (265, 30, 315, 100, "truck", 0.5)
