"""The few types that flow between stages.

`Detections` is the one currency of the pipeline: parallel numpy arrays, one row per
object, so every stage filters and measures with vectorised expressions instead of
per-box Python objects. `Frame` is what a source hands to the sampler and the
detector. `CaseMessage` is what the case stage hands to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Region = tuple[float, float, float, float]  # x1, y1, x2, y2 normalised to 0..1 of the frame (zones' boxes)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture of one camera.

    `media_time` is presentation time in seconds from the start of the stream (PTS x
    time base): persistence is measured in it, so dropped frames never stretch time.
    `wall_time` is `time.time()` when the frame was read, used for staleness and lag.
    """

    camera_id: str
    image: np.ndarray  # (H, W, 3) uint8, BGR (OpenCV order)
    media_time: float
    wall_time: float
    index: int = 0  # analysed-frame sequence number within this source session
    is_keyframe: bool = False

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def _column(values: Any, dtype: type, n: int, name: str) -> np.ndarray:
    array: np.ndarray = np.asarray(values, dtype=dtype).reshape(-1)
    if array.shape[0] != n:
        raise ValueError(f"Detections.{name} has {array.shape[0]} rows, xyxy has {n}")
    return array


@dataclass(frozen=True, slots=True)
class Detections:
    """Objects found in one frame, as parallel arrays.

    xyxy: (N, 4) float32 pixel corners; confidence: (N,) float32; class_id: (N,) int32;
    tracker_id: (N,) int64 with -1 for "not tracked"; data: extra (N, ...) columns.
    Boolean or integer indexing returns a new `Detections`.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = xyxy.shape[0]
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", _column(self.confidence, np.float32, n, "confidence"))
        object.__setattr__(self, "class_id", _column(self.class_id, np.int32, n, "class_id"))
        tracker = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
        if tracker.shape[0] == 0 and n:
            tracker = np.full(n, -1, np.int64)
        object.__setattr__(self, "tracker_id", _column(tracker, np.int64, n, "tracker_id"))
        for key, column in self.data.items():
            if len(column) != n:
                raise ValueError(f"Detections.data[{key!r}] has {len(column)} rows, xyxy has {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]),
            {k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        if isinstance(index, int):
            index = np.array([index])
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            self.tracker_id[index],
            {k: v[index] for k, v in self.data.items()},
        )

    def with_tracker_id(self, tracker_id: np.ndarray) -> Detections:
        return Detections(self.xyxy, self.confidence, self.class_id, tracker_id, dict(self.data))

    @property
    def bottom_center(self) -> np.ndarray:
        """(N, 2) anchor points: where an object touches the ground, as zones are drawn."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def center(self) -> np.ndarray:
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], 1)

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


MessageKind = Literal["new", "update", "cleared", "verification"]
DEVICE_FAULT = "device_fault"  # body["type"] of a device-fault message (a moved, covered or blurred camera)


@dataclass(frozen=True, slots=True)
class CaseMessage:
    """One message about one case for the platform: a new case, an update or a clearing.

    `message_id` is the idempotency key ("{case_id}:{seq}"): the same message re-sent after
    a crash or a retry carries the same key, so the platform stores it once. Messages of one
    case are delivered in `seq` order. `body` follows the case contract (docs/case-contract.md);
    `pictures` maps file names (as referenced from `body["evidence"]`) to JPEG bytes.
    """

    case_id: str
    seq: int
    kind: MessageKind
    body: dict[str, Any]
    pictures: dict[str, bytes] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        return f"{self.case_id}:{self.seq}"

    @property
    def is_device_fault(self) -> bool:
        """A message about the camera itself (edge.runtime.faults), not a street case."""
        return self.body.get("type") == DEVICE_FAULT
