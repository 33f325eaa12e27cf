"""Compare detector models on every ground-truth file of streams/, and each model's zone crop against its whole frame.

Per model, in one run:

1. **Eval** (`edge eval` through `edge.evaluate`): each truth file with its config (the model's path
   swapped in), P / R, duplicates, latency, frames analysed and replay time; plus the same with only
   the no-parking zone (`--zones no-parking-gate`, the bench_cameras camera) for the 0505 file.
2. **Detection fraction**: for each expected case, the share of the analysed frames of its window in
   which the detector finds it (a detection of one of its rule's classes, at the rule's `min_score`,
   matching the truth box by the item's own criterion: `min_iou` or `max_centre_distance`).
3. **Crop parity** (`--crop`): every eval again with `inference.crop_to_zones: true`; cases matched by
   id: same ids, message times within one analysed frame, boxes IoU; and raw detections inside the
   crop's region (one picture every `--every` s): each whole-frame detection at or above 0.3 against
   the cropped run's best box of its class (IoU, score shift).
4. **One object, two classes**: pairs of overlapping detections of different classes, by class pair.
5. **Small, distant people**: no truth file lists every person, so the reference is where two
   strong views agree: persons at 0.5 or more found both by YOLOX at twice its input size and by
   CenterNet at twice its input size (IoU >= 0.5), one picture a second. Each model's recall of those
   at its own size and `--person-score`, by box height in 576p pixels.

Rerun: .venv/bin/python bench/bench_detectors.py [--crop] [--every 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from edge.cli.replay import DEFAULT_START, start_epoch
from edge.config import EdgeConfig, ModelConfig, load_config
from edge.evaluate import ExpectedCase, Thresholds, Truth, evaluate, load_truth
from edge.evaluate.run import ClipEvaluation
from edge.infer import Detector, load_detector
from edge.scene import bounding, zone_regions
from edge.types import CaseMessage, Detections
from edge.zones.geometry import box_iou, points_in_zone

from _common import REPO, VTEST, machine

STREAMS = REPO / "streams"
PAIRS = (("vtest.truth.yaml", "demo.yaml"), ("vtest-road.truth.yaml", "road.yaml"))
MODELS = (REPO / "models" / "centernet-mbv3-coco.onnx", REPO / "models" / "yolox-nano-coco.onnx")
HEIGHT_BINS = (0, 40, 60, 90, 10_000)


@dataclasses.dataclass
class Setup:
    """One truth file with the config that scores it (optionally narrowed to some zones)."""

    name: str
    truth: Truth
    config: EdgeConfig


def setups(zones: Sequence[str]) -> list[Setup]:
    out = []
    for truth_name, config_name in PAIRS:
        truth, config = load_truth(STREAMS / truth_name), load_config(STREAMS / config_name)
        out.append(Setup(f"{truth_name} + {config_name}", truth, config))
        if zones and all(item.zone in zones for item in truth.spec.expected):
            camera = config.cameras[0]
            kept = [z for z in camera.zones if z.id in zones]
            narrowed = config.model_copy(update={"cameras": [camera.model_copy(update={"zones": kept})]})
            out.append(Setup(f"{truth_name} + {config_name}, zones {','.join(zones)}", truth, narrowed))
    return out


def with_model(config: EdgeConfig, model: Path, crop: bool, storage: Path) -> EdgeConfig:
    models = [config.models[0].model_copy(update={"path": model})]
    inference = config.inference.model_copy(update={"crop_to_zones": crop})
    store = config.storage.model_copy(update={"dir": storage})
    return config.model_copy(update={"models": models, "inference": inference, "storage": store})


def run_eval(config: EdgeConfig, truth: Truth, out: Path) -> ClipEvaluation:
    evaluation = evaluate(config, [truth], out, lambda cam: start_epoch(config, cam, DEFAULT_START), Thresholds())
    total = evaluation.scores["all"]
    print(
        f"    cases {total.cases}: TP {total.true_positives} FP {total.false_positives} dup {total.duplicates} "
        f"miss {total.misses}; P {_rate(total.precision)} R {_rate(total.recall)}; latency mean/max "
        f"{_latency(total.latencies)}; {evaluation.clips[0].result.frames_analysed} frames in "
        f"{evaluation.clips[0].result.wall_seconds:.1f} s"
    )
    for event, row in evaluation.scores.items():
        if event != "all":
            print(f"      {event}: TP {row.true_positives} FP {row.false_positives} miss {row.misses}")
    return evaluation.clips[0]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _latency(values: Sequence[float]) -> str:
    return f"{np.mean(values):.1f}/{max(values):.1f} s" if values else "-"


def frames_at(fps: float) -> list[tuple[float, np.ndarray]]:
    """The clip's pictures at `fps`, as the replay samples them (the first at or after each due time)."""
    out, due = [], 0.0
    with av.open(str(VTEST)) as container:
        for frame in container.decode(video=0):
            t = float(frame.time)
            if t >= due - 1e-6:
                out.append((t, frame.to_ndarray(format="bgr24")))
                due += 1.0 / fps
    return out


def item_found(item: ExpectedCase, dets: Detections, size: tuple[int, int]) -> bool:
    if item.box is None or not len(dets):
        return len(dets) > 0
    w, h = size
    truth = np.array(item.box, np.float32) * [w, h, w, h]
    if item.min_iou is not None:
        return bool(box_iou(truth[None], dets.xyxy).max() >= item.min_iou)
    centres = (dets.xyxy[:, :2] + dets.xyxy[:, 2:]) / 2 / [w, h]
    distance = np.abs(centres - (truth[:2] + truth[2:]) / 2 / [w, h]).max(axis=1)
    return bool(distance.min() <= (item.max_centre_distance or 0.05))


def detection_fractions(setup: Setup, detector: Detector, frames: list[tuple[float, np.ndarray]]) -> None:
    camera = setup.config.cameras[0]
    found = [detector.detect([image])[0] for _, image in frames]
    for item in setup.truth.spec.expected:
        zone = next(z for z in camera.zones if z.id == item.zone)
        rule = next(r for r in zone.rules if r.event_code == item.event)
        wanted = np.isin(np.array(detector.class_names), rule.classes or detector.class_names)
        hits = [
            item_found(item, dets[wanted[dets.class_id] & (dets.confidence >= rule.min_score)], image.shape[1::-1])
            for (t, image), dets in zip(frames, found, strict=True)
            if item.window[0] <= t <= item.window[1]
        ]
        print(f"    {item.id}: detected in {sum(hits)}/{len(hits)} analysed frames ({np.mean(hits):.0%})")


def case_parity(whole: Sequence[CaseMessage], crop: Sequence[CaseMessage], frame_s: float) -> str:
    def by_case(messages: Sequence[CaseMessage]) -> dict[str, list[CaseMessage]]:
        out: dict[str, list[CaseMessage]] = {}
        for m in messages:
            if not m.is_device_fault:
                out.setdefault(m.case_id, []).append(m)
        return out

    a, b = by_case(whole), by_case(crop)
    if sorted(a) != sorted(b):
        return f"case ids DIFFER: {sorted(a)} vs {sorted(b)}"
    ious, shifts = [], []
    for case_id, want in a.items():
        have = b[case_id]
        if [m.kind for m in want] != [m.kind for m in have]:
            return f"{case_id}: message kinds DIFFER"
        for w, h in zip(want, have, strict=True):
            shifts.append(abs(w.body["times"]["message_media_s"] - h.body["times"]["message_media_s"]))
            box = box_iou(np.array([w.body["detection"]["box"]]), np.array([h.body["detection"]["box"]]))
            ious.append(float(box[0, 0]))
    late = max(shifts, default=0.0)
    return (
        f"same {len(a)} case ids, same message kinds; times differ by at most {late:.1f} s "
        f"({'within' if late <= frame_s + 1e-6 else 'MORE than'} one analysed frame); "
        f"box IoU min {min(ious, default=1.0):.3f}"
    )


def raw_parity(setup: Setup, detector: Detector, frames: list[tuple[float, np.ndarray]], margin: float) -> None:
    """Whole-frame detections >= 0.3 centred in the crop's region, and those whose anchor is in a zone,
    against the cropped run's best box of the same class."""
    zones = [z.points for z in setup.config.cameras[0].zones if any(r.enabled for r in z.rules)]
    region = bounding(zone_regions(zones, margin))
    window = detector.spec.window(region, frames[0][1].shape[1::-1])
    rows: list[tuple[bool, float, float]] = []  # (anchor in a zone, IoU, score shift); IoU 0 = lost
    for _, image in frames:
        whole, crop = detector.detect([image, image], [None, region])
        w, h = image.shape[1], image.shape[0]
        x1, y1, x2, y2 = np.array(region) * [w, h, w, h]
        centre = (whole.xyxy[:, :2] + whole.xyxy[:, 2:]) / 2
        inside = (whole.confidence >= 0.3) & (centre[:, 0] >= x1) & (centre[:, 0] <= x2)
        inside &= (centre[:, 1] >= y1) & (centre[:, 1] <= y2)
        kept = whole[inside]
        in_zone = np.zeros(len(kept), bool)
        for polygon in zones:
            in_zone |= points_in_zone(kept.bottom_center, polygon, w, h)
        for box, score, cls, zoned in zip(kept.xyxy, kept.confidence, kept.class_id, in_zone, strict=True):
            same = crop.class_id == cls
            overlap = box_iou(box[None], crop.xyxy[same])[0] if same.any() else np.zeros(1)
            best = int(np.argmax(overlap))
            shift = float(crop.confidence[same][best] - score) if same.any() else 0.0
            rows.append((bool(zoned), float(overlap[best]), shift))
    print(f"    raw: window {window} of {detector.spec.width}x{detector.spec.height}")
    for label, pick in (("centred in the region", lambda r: True), ("anchored in a zone", lambda r: r[0])):
        chosen = [r for r in rows if pick(r)]
        matched = [r for r in chosen if r[1] >= 0.3]
        if not matched:
            print(f"      {label}: none")
            continue
        iou = np.array([r[1] for r in matched])
        shifts = np.array([r[2] for r in matched])
        print(
            f"      {label}: {len(chosen)} whole-frame detections >= 0.3, {len(chosen) - len(matched)} without a "
            f"crop match; IoU p10 {np.percentile(iou, 10):.3f} median {np.median(iou):.3f} min {iou.min():.3f}, "
            f"share >= 0.9 {np.mean(iou >= 0.9):.0%}; score shift mean {np.abs(shifts).mean():.3f} max "
            f"{np.abs(shifts).max():.3f} (signed mean {shifts.mean():+.3f})"
        )


def class_overlaps(detector: Detector, frames: list[tuple[float, np.ndarray]]) -> None:
    """Pairs of detections >= 0.3 of different classes overlapping at IoU >= 0.5 on one picture: one object
    under two classes (car and truck on a van) or two objects (a person on a bicycle)."""
    pairs: dict[tuple[str, str], int] = {}
    for _, image in frames:
        [dets] = detector.detect([image])
        dets = dets[dets.confidence >= 0.3]
        overlap = np.triu(box_iou(dets.xyxy, dets.xyxy), 1)
        for i, j in zip(*np.nonzero(overlap >= 0.5), strict=True):
            if dets.class_id[i] != dets.class_id[j]:
                key = tuple(sorted((detector.class_names[dets.class_id[i]], detector.class_names[dets.class_id[j]])))
                pairs[key] = pairs.get(key, 0) + 1
    listed = ", ".join(f"{a}+{b} {n}" for (a, b), n in sorted(pairs.items(), key=lambda kv: -kv[1])) or "none"
    print(f"    overlapping classes (IoU >= 0.5, both >= 0.3) on {len(frames)} pictures: {listed}")


def persons(detector: Detector, image: np.ndarray, score: float) -> np.ndarray:
    [dets] = detector.detect([image])
    return dets.xyxy[(dets.class_id == 0) & (dets.confidence >= score)]


def small_people(detectors: dict[str, Detector], frames: list[tuple[float, np.ndarray]], score: float) -> None:
    strong = {}
    for path in MODELS:
        base = load_detector(ModelConfig(id="ref", path=path, score_threshold=0.5))
        size = (base.spec.width * 2, base.spec.height * 2)
        strong[path.name] = load_detector(ModelConfig(id="ref", path=path, score_threshold=0.5, input_size=size))
    found = {name: np.zeros(len(HEIGHT_BINS) - 1, int) for name in detectors}
    reference = np.zeros(len(HEIGHT_BINS) - 1, int)
    for _, image in frames:
        a, b = (persons(d, image, 0.5) for d in strong.values())
        if not len(a) or not len(b):
            continue
        agreed = a[box_iou(a, b).max(axis=1) >= 0.5]
        bins = np.digitize(agreed[:, 3] - agreed[:, 1], HEIGHT_BINS) - 1
        reference += np.bincount(bins, minlength=len(reference))
        for name, detector in detectors.items():
            mine = persons(detector, image, score)
            hit = box_iou(agreed, mine).max(axis=1) >= 0.5 if len(mine) else np.zeros(len(agreed), bool)
            found[name] += np.bincount(bins[hit], minlength=len(reference))
    labels = [f"{lo}-{hi} px" if hi < 10_000 else f">= {lo} px" for lo, hi in itertools.pairwise(HEIGHT_BINS)]
    print(f"\nsmall, distant people: recall at score >= {score} of the persons both models find at twice their size")
    print("  height: " + ", ".join(f"{label} ({n})" for label, n in zip(labels, reference, strict=True)))
    for name, hits in found.items():
        rates = [f"{h / n:.2f}" if n else "-" for h, n in zip(hits, reference, strict=True)]
        print(f"  {name}: " + ", ".join(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", type=Path, default=list(MODELS))
    parser.add_argument("--zones", nargs="*", default=["no-parking-gate"], help="a narrowed config of these zones")
    parser.add_argument("--crop", action="store_true", help="also run every eval with crop_to_zones and compare")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between pictures for raw comparisons")
    parser.add_argument("--person-score", type=float, default=0.4, help="a person counts from this score")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    found: dict[str, Detector] = {}
    analysed: dict[float, list[tuple[float, np.ndarray]]] = {}
    sparse = frames_at(1.0 / args.every)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            print(f"\n=== {model.name}")
            class_overlaps(load_detector(ModelConfig(id="m", path=model)), analysed.setdefault(2.0, frames_at(2.0)))
            for n, setup in enumerate(setups(args.zones)):
                print(f"  {setup.name}")
                config = with_model(setup.config, model, False, Path(tmp) / f"s{n}")
                whole = run_eval(config, setup.truth, Path(tmp) / f"{model.stem}-{n}-whole")
                detector = load_detector(config.models[0])
                found[model.name] = detector
                fps = config.cameras[0].analysis.fps
                detection_fractions(setup, detector, analysed.setdefault(fps, frames_at(fps)))
                if args.crop:
                    print("   crop_to_zones:")
                    cropped = with_model(setup.config, model, True, Path(tmp) / f"c{n}")
                    crop = run_eval(cropped, setup.truth, Path(tmp) / f"{model.stem}-{n}-crop")
                    parity = case_parity(whole.result.messages, crop.result.messages, 1.0 / fps)
                    print(f"    vs whole frame: {parity}")
                    raw_parity(setup, detector, sparse, config.inference.crop_margin)
    small_people(found, frames_at(1.0), args.person_score)


if __name__ == "__main__":
    main()
