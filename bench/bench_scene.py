"""Cost of the scene model per analysed frame, against a detector inference on the same frames.

Frames of streams/vtest.avi (768x576) are sampled at 2 fps of media time; from 20 s to 55 s a
box lies on the lawn, so static-object tracking does real work (blobs, matching, ghost check)
rather than idling on an empty view. For every frame, in the same run, interleaved:
1. detector: the bundled CenterNet through `edge.infer` (`Detector.detect([image])`, preprocessing
   and decoding included) - the baseline;
2. scene: `SceneModel.update(frame, detections, class_names)` with that frame's detections;
3. view change: `ViewChangeDetector.update(image)` (runs for every camera, scene model or not) and,
   for the dwell rules' same-object check, the appearance signatures of that frame's boxes;
4. change gate: `ChangeGate.check(image, t)` over the demo's two zones (edge/scene/change.py), the
   price of deciding whether the detector must run at all.
Frames of the warm-up (the background being learned) are left out of the scene's numbers. Reports
median and p95 milliseconds per frame of each, and the ratio scene / detector.

Usage: .venv/bin/python bench/bench_scene.py [--repeats 3] [--fps 2] [--work-width 160]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import av
import numpy as np

from edge.cases.appearance import signatures
from edge.config import ModelConfig
from edge.config.scene import ChangeGateConfig, SceneConfig, ViewChangeConfig
from edge.infer import load_detector
from edge.scene import ChangeGate, SceneModel, ViewChangeDetector, zone_regions
from edge.types import Frame

REPO = Path(__file__).resolve().parents[1]
BOX_FROM, BOX_UNTIL = 20.0, 55.0
DEMO_ZONES = [[(0.8, 0.04), (1.0, 0.04), (1.0, 0.26), (0.8, 0.26)], [(0.0, 0.3), (1.0, 0.3), (1.0, 0.85), (0.0, 0.85)]]


def clip(fps: float) -> list[tuple[float, np.ndarray]]:
    """(media time, BGR image) at `fps`, with a brown box on the lawn between BOX_FROM and BOX_UNTIL."""
    rng = np.random.default_rng(3)
    box = np.clip(rng.normal((60, 105, 150), 12, (60, 90, 3)), 0, 255).astype(np.uint8)
    out, next_time = [], 0.0
    with av.open(str(REPO / "streams" / "vtest.avi")) as container:
        for frame in container.decode(video=0):
            if frame.time is None or frame.time + 1e-6 < next_time:
                continue
            image = frame.to_ndarray(format="bgr24")
            if BOX_FROM <= frame.time < BOX_UNTIL:
                image[420:480, 60:150] = box
            out.append((float(frame.time), image))
            next_time += 1.0 / fps
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the clip")
    parser.add_argument("--fps", type=float, default=2.0, help="analysed frames per second of media time")
    parser.add_argument("--work-width", type=int, default=160, help="SceneConfig.work_width")
    args = parser.parse_args()

    detector = load_detector(ModelConfig(id="coco", path=REPO / "models" / "centernet-mbv3-coco.onnx"))
    frames = clip(args.fps)
    config = SceneConfig(enabled=True, static_after_s=15.0, work_width=args.work_width)
    detect_ms: list[float] = []
    scene_ms: list[float] = []
    view_ms: list[float] = []
    looks_ms: list[float] = []
    gate_ms: list[float] = []
    found: set[int] = set()
    for _ in range(args.repeats):
        scene = SceneModel("bench", config)
        view = ViewChangeDetector(ViewChangeConfig())
        gate = ChangeGate(ChangeGateConfig(), zone_regions(DEMO_ZONES, ChangeGateConfig().margin))
        for index, (t, image) in enumerate(frames):
            start = time.perf_counter()
            detections = detector.detect([image])[0]
            middle = time.perf_counter()
            update = scene.update(Frame("bench", image, t, t, index), detections, detector.class_names)
            end = time.perf_counter()
            view.update(image)
            viewed = time.perf_counter()
            signatures(image, detections.xyxy)
            looked = time.perf_counter()
            gate.check(image, t)
            gate_ms.append((time.perf_counter() - looked) * 1000)
            view_ms.append((viewed - end) * 1000)
            looks_ms.append((looked - viewed) * 1000)
            detect_ms.append((middle - start) * 1000)
            if not update.learning:
                scene_ms.append((end - middle) * 1000)
            found.update(int(i) for i in update.static_objects.data.get("object_id", []))

    det, scn = statistics.median(detect_ms), statistics.median(scene_ms)
    print(f"frames: {len(frames)} per pass x {args.repeats} passes, 768x576, work width {args.work_width}")
    print(f"detector (CenterNet via edge.infer): median {det:6.2f} ms  p95 {percentile(detect_ms, 95):6.2f} ms")
    print(f"scene model update:                  median {scn:6.2f} ms  p95 {percentile(scene_ms, 95):6.2f} ms")
    print(f"ratio scene / detector (median): {scn / det:.3f}  (p95: {percentile(scene_ms, 95) / det:.3f})")
    view, looks = statistics.median(view_ms), statistics.median(looks_ms)
    print(f"view change check:                   median {view:6.2f} ms  ratio / detector {view / det:.3f}")
    print(f"appearance signatures (all boxes):   median {looks:6.2f} ms  ratio / detector {looks / det:.3f}")
    gated = statistics.median(gate_ms)
    print(f"change gate check (two zones):       median {gated:6.2f} ms  ratio / detector {gated / det:.3f}")
    print(f"static objects seen per pass: {len(found)} id(s) (the box)")


if __name__ == "__main__":
    main()
