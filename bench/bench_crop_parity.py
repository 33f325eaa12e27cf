"""How far zone-cropped inference strays from the whole frame, and whether the model's global pooling is why.

`inference.crop_to_zones` runs the detector on an aligned window of its input (docs/inference.md).
The bundled MobileNetV3 CenterNet has squeeze-and-excitation blocks (and a head) that average
whole feature maps (ONNX GlobalAveragePool), so what lies outside the window changes the scores
inside it. This script measures, on pictures of streams/vtest.avi, the detections that the
whole-frame run finds inside a zone (at `--min-score` or more) against the windowed run's, for:
- `crop`: the window alone, as the worker runs it;
- `crop+context`: the window, with every global pool's output taken from the whole-frame run of the
  same picture (the model cut at its pools with onnx; an upper bound for any "keep the context" fix,
  since it needs the whole-frame run it means to save);
- `crop+context Ns old`: the same with the pooled context of the picture N seconds earlier (what a
  per-camera cached context, refreshed every N s, could give).
Per variant and margin: how many zone detections, the box IoU with the best same-class match (10th
percentile, median, minimum: 0 when lost) and the score difference (mean, max).

Usage: .venv/bin/python bench/bench_crop_parity.py [--margins 0.05 0.1 0.2 0.3] [--pictures 40]
           [--every 2] [--stale 2 10] [--zone 0.80 0.04 1.0 0.26]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from edge.config.model import ModelConfig
from edge.infer import Detector, load_detector
from edge.types import Detections

from _common import REPO, VTEST, machine

MODEL = REPO / "models" / "centernet-mbv3-coco.onnx"


@dataclass(frozen=True)
class Graphs:
    """The model with its global pools' outputs as extra outputs, and with them as inputs instead."""

    pooled: list[str]
    probe: ort.InferenceSession
    fed: ort.InferenceSession


def cut_at_pools(path: Path) -> Graphs:
    model = onnx.load(str(path))
    pools = [n for n in model.graph.node if n.op_type == "GlobalAveragePool"]
    names = [n.output[0] for n in pools]
    probe, fed = onnx.ModelProto(), onnx.ModelProto()
    probe.CopyFrom(model)
    fed.CopyFrom(model)
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
        fed.graph.input.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    kept = [n for n in fed.graph.node if n.op_type != "GlobalAveragePool"]
    del fed.graph.node[:]
    fed.graph.node.extend(kept)
    return Graphs(names, session(probe), session(fed))


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def pictures(count: int, every_s: float) -> dict[float, np.ndarray]:
    """Media time -> BGR picture, one every `every_s` seconds from the clip's start."""
    wanted = [round(i * every_s, 3) for i in range(count)]
    out: dict[float, np.ndarray] = {}
    with av.open(str(VTEST)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.pts is not None and wanted and float(frame.pts * stream.time_base) >= wanted[0] - 1e-6:
                out[wanted.pop(0)] = frame.to_ndarray(format="bgr24")
            if not wanted:
                break
    return out


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    low, high = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def area(xyxy: np.ndarray) -> np.ndarray:
    return np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)


def in_zone(found: Detections, zone: tuple[float, ...], width: int, height: int) -> Detections:
    centre = (found.xyxy[:, :2] + found.xyxy[:, 2:]) / 2 / np.array([width, height], np.float32)
    inside = (centre[:, 0] > zone[0]) & (centre[:, 0] < zone[2]) & (centre[:, 1] > zone[1]) & (centre[:, 1] < zone[3])
    return found[inside]


def compare(whole: Detections, other: Detections) -> list[tuple[float, float]]:
    """(IoU, score difference) for each whole-frame detection: best same-class match, 0 IoU when lost."""
    out = []
    overlap = iou(whole.xyxy, other.xyxy) if len(other) else np.zeros((len(whole), 0))
    for i in range(len(whole)):
        same = other.class_id == whole.class_id[i]
        if not same.any():
            out.append((0.0, float(whole.confidence[i])))
            continue
        j = int(np.flatnonzero(same)[np.argmax(overlap[i, same])])
        out.append((float(overlap[i, j]), abs(float(other.confidence[j] - whole.confidence[i]))))
    return out


def run(
    detector: Detector, graphs: Graphs, shots: dict[float, np.ndarray], args: argparse.Namespace, margin: float
) -> None:
    """One margin: every variant against the whole frame, printed as one line each."""
    zone = tuple(args.zone)
    region = (
        max(0.0, zone[0] - margin),
        max(0.0, zone[1] - margin),
        min(1.0, zone[2] + margin),
        min(1.0, zone[3] + margin),
    )
    height, width = next(iter(shots.values())).shape[:2]
    window = detector.spec.window(region, (width, height))
    name = detector.spec.name
    context: dict[float, dict[str, np.ndarray]] = {}
    results: dict[str, list[tuple[float, float]]] = {}
    for t, image in shots.items():
        height, width = image.shape[:2]
        tensor, geometry = detector.preprocess([image])
        outputs = graphs.probe.run(None, {name: tensor})
        context[t] = dict(zip(graphs.pooled, outputs[2:], strict=True))
        whole = in_zone(detector.postprocess(outputs[:2], geometry)[0], zone, width, height)
        whole = whole[whole.confidence >= args.min_score]
        if not len(whole):
            continue
        windowed, wgeometry = detector.preprocess([image], window)
        runs = {"crop": detector.run(windowed)}
        for age in [0.0, *args.stale]:
            source = round(t - age, 3)
            if source in context:
                label = "crop+context" if age == 0 else f"crop+context {age:g} s old"
                runs[label] = graphs.fed.run(None, {name: windowed, **context[source]})
        for label, raw in runs.items():
            found = in_zone(detector.postprocess(raw[:2], wgeometry)[0], zone, width, height)
            results.setdefault(label, []).extend(compare(whole, found))
    w = window or (0, 0, detector.spec.width, detector.spec.height)
    print(
        f"margin {margin:g}: window x {w[0]}-{w[2]}, y {w[1]}-{w[3]} "
        f"of the {detector.spec.width}x{detector.spec.height} input"
    )
    for label, rows in results.items():
        a = np.array(rows)
        print(
            f"  {label:24s} {len(a):4d} detections  IoU p10 {np.percentile(a[:, 0], 10):.3f} median "
            f"{np.median(a[:, 0]):.3f} min {a[:, 0].min():.3f} | score diff mean {a[:, 1].mean():.3f} "
            f"max {a[:, 1].max():.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--zone", type=float, nargs=4, default=[0.80, 0.04, 1.0, 0.26], help="x1 y1 x2 y2, normalised")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--pictures", type=int, default=40)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between pictures")
    parser.add_argument("--stale", type=float, nargs="*", default=[2.0, 10.0], help="ages of the cached context")
    parser.add_argument("--min-score", type=float, default=0.3)
    args = parser.parse_args()
    detector = load_detector(ModelConfig(id="coco", path=args.model, score_threshold=0.25))
    if not detector.spec.windows:
        raise SystemExit(f"{args.model}: fixed input size, no window to run")
    graphs = cut_at_pools(args.model)
    print(f"machine: {machine()}; {args.model.name}: {len(graphs.pooled)} global average pools")
    shots = pictures(args.pictures, args.every)
    print(
        f"{len(shots)} pictures of {VTEST.name}, one every {args.every:g} s; zone {args.zone}; "
        f"whole-frame detections >= {args.min_score}"
    )
    for margin in args.margins:
        run(detector, graphs, shots, args, margin)


if __name__ == "__main__":
    main()
