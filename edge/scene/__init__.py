"""Scene model per camera: long-term background, static new objects and camera tamper."""

from edge.scene.model import SceneModel, SceneUpdate
from edge.scene.tamper import TamperKind, TamperStatus

__all__ = ["SceneModel", "SceneUpdate", "TamperKind", "TamperStatus"]
