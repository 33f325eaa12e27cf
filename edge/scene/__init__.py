"""Scene model per camera: long-term background, static new objects and camera tamper."""

from edge.scene.change import ChangeGate, GateVerdict, bounding, zone_regions
from edge.scene.model import SceneModel, SceneUpdate
from edge.scene.tamper import TamperKind, TamperStatus
from edge.scene.viewchange import ViewChange, ViewChangeDetector

__all__ = [
    "ChangeGate",
    "GateVerdict",
    "SceneModel",
    "SceneUpdate",
    "TamperKind",
    "TamperStatus",
    "ViewChange",
    "ViewChangeDetector",
    "bounding",
    "zone_regions",
]
