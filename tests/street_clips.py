"""Street scenes composited from real vtest footage for the dwell tests, analysed by the real model.

Pieces are cut out of real frames: the empty road (the clip's per-pixel median: walkers gone),
people (boxes the bundled detector found at moments far apart, so each is a different person) and
the parked white van. They are pasted onto the road as a scenario needs: passers-by crossing one
spot, a van parked behind passers-by, and so on. Frames then go through the real detector and the
real per-camera pipeline, exactly as replay and the live worker run them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scene_clips import vtest_frames

from edge.config import EdgeConfig
from edge.infer import Detector, crops_to_zones, load_detector
from edge.runtime.pipeline import CameraPipeline, PipelineStep
from edge.types import CaseMessage, Frame

W, H = 768, 576
VAN_BOX = (643, 41, 724, 98)  # the white van parked top right in every vtest frame
SPOT = (330, 300)  # top-left corner where things are pasted: the middle of the road


_ROAD: list[np.ndarray] = []


def empty_road() -> np.ndarray:
    """The clip's per-pixel median at 1 fps: the street with nobody on it."""
    if not _ROAD:
        _ROAD.append(np.median(np.stack([image for _, image in vtest_frames(1.0)]), axis=0).astype(np.uint8))
    return _ROAD[0]


_DETECTORS: dict[str, Detector] = {}


def detector(config: EdgeConfig) -> Detector:
    """The config's first model, loaded once per test session."""
    path = str(config.models[0].path)
    if path not in _DETECTORS:
        _DETECTORS[path] = load_detector(config.models[0])
    return _DETECTORS[path]


_PEOPLE: list[np.ndarray] = []


def _people(config: EdgeConfig) -> list[np.ndarray]:
    """Person crops, one from every 6 s of the clip (so each is a different person), best score first."""
    if _PEOPLE:
        return _PEOPLE
    model = detector(config)
    person = model.class_names.index("person")
    crops = _PEOPLE
    for _, image in vtest_frames(1.0)[::6]:
        dets = model.detect([image])[0]
        ok = (dets.class_id == person) & (dets.confidence >= 0.6)
        if not ok.any():
            continue
        x1, y1, x2, y2 = np.round(dets.xyxy[ok][np.argmax(dets.confidence[ok])]).astype(int)
        if y2 - y1 >= 60:  # a whole person, not a head behind a sign
            crops.append(image[y1:y2, x1:x2].copy())
    return crops


def people(config: EdgeConfig, n: int) -> Sequence[np.ndarray]:
    crops = _people(config)
    assert len(crops) >= n, f"only {len(crops)} distinct people found in vtest"
    return crops[:n]


def van() -> np.ndarray:
    x1, y1, x2, y2 = VAN_BOX
    return np.ascontiguousarray(vtest_frames(1.0)[0][1][y1:y2, x1:x2])


def paste(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """The patch with its bottom-left corner at (x, y + patch height): standing on the road."""
    out = image.copy()
    out[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return out


Scene = Callable[[float], np.ndarray]  # media time -> BGR frame


def play(
    config: EdgeConfig, run_dir: Path, scene: Scene, seconds: float, fps: float = 2.0, tracker: dict | None = None
) -> tuple[list[CaseMessage], list[PipelineStep]]:
    """Every frame of `scene` through the real detector and a real CameraPipeline: its messages and steps.

    As replay and the worker do it: the detector runs on the frames the pipeline's change gate admits."""
    if tracker is not None:
        config = config.model_copy(update={"tracker": config.tracker.model_copy(update=tracker)})
    model = detector(config)
    messages: list[CaseMessage] = []
    steps: list[PipelineStep] = []
    camera = config.cameras[0]
    pipeline = CameraPipeline(config, camera.id, run_dir / "state.db", {"coco": model.class_names}, messages.append)
    try:
        for index, t in enumerate(np.arange(0.0, seconds, 1.0 / fps)):
            image = scene(float(t))
            frame = Frame(camera.id, image, float(t), 1_767_571_200.0 + float(t), index)
            admission = pipeline.admit(frame)
            region = admission.region if crops_to_zones(model, config.inference) else None  # as the engine does
            found = model.detect([image], [region])[0] if admission.models else None
            steps.append(pipeline.analyse(frame, {"coco": found} if found is not None else {}))
    finally:
        pipeline.close()
    return messages, steps
