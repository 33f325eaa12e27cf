"""Inference: model-format adapters behind one `Detector` interface.

`load_detector(cfg)` opens and checks a model (raising `ModelError` naming the model and the
problem); `Detector.detect(images)` turns BGR uint8 frames of any size into one `Detections`
per frame, in that frame's pixels. `InferenceEngine` is the batched loop all cameras share;
`thread_plan(inference, model)` says how many threads it and the model's session run on.
"""

from edge.infer.detector import Detector, crops_to_zones, load_detector
from edge.infer.engine import CameraStats, EngineStats, InferenceEngine, ModelStats
from edge.infer.errors import ModelError
from edge.infer.session import ThreadPlan, thread_plan

__all__ = [
    "CameraStats",
    "Detector",
    "EngineStats",
    "InferenceEngine",
    "ModelError",
    "ModelStats",
    "ThreadPlan",
    "crops_to_zones",
    "load_detector",
    "thread_plan",
]
