"""CPU a camera's pipeline costs per analysed frame beside the detector's, measured in the same run.

Past a few dozen cameras the box's limit is not the detector's cores but the one interpreter lock
that every camera's pipeline (view-change check, tracker, rules, case state) takes in turn
(docs/inference.md, bench_cameras.py): so what the pipeline costs per frame, next to the detector,
is what decides how many cameras one worker process serves.

For each config (default: the two bundled ones, each on its own clip), the clip's analysed frames
are decoded once and the config's detector runs once on each frame the change gate admits, as the
engine would run it (its region, batch of one): its CPU per frame is the baseline. Then, for
--repeats rounds, a fresh `CameraPipeline` (fresh state file, as a replay) analyses the frames
with those detections: `admit` + `analyse`, all of it on this thread, timed in process CPU time
(OpenCV's own threads included). Reports per config the pipeline's CPU per frame (median of the
rounds), the detector's, their ratio, and the cases the pipeline opened (the same in every round, or
the bench says so).

Usage: .venv/bin/python bench/bench_pipeline.py [--configs streams/demo.yaml streams/road.yaml] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from edge.cases import models_for
from edge.config import load_config
from edge.ingest import read_file_frames
from edge.runtime.pipeline import CameraPipeline, load_detectors
from edge.types import CaseMessage, Detections, Frame

from _common import REPO, machine


def _detections(config_path: Path) -> tuple[list[Frame], list[dict[str, Detections]], float]:
    """The clip's analysed frames, the detections of each (empty where the gate reuses), detector ms/frame."""
    config = load_config(config_path)
    camera = config.cameras[0]
    detectors = load_detectors(config, models_for(camera))
    clip = config_path.parent / camera.source.url  # the bundled configs name their clip beside them
    frames = list(read_file_frames(clip, camera.id, camera.analysis.fps))
    names = {model_id: d.class_names for model_id, d in detectors.items()}
    found: list[dict[str, Detections]] = []
    spent, runs = 0.0, 0
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = CameraPipeline(config, camera.id, Path(scratch) / "state.db", names, lambda _: None)
        for frame in frames:
            admission = pipeline.admit(frame)
            started = time.process_time()
            found.append({m: detectors[m].detect([frame.image], [admission.region])[0] for m in admission.models})
            spent += time.process_time() - started
            runs += bool(admission.models)
            pipeline.analyse(frame, found[-1])
        pipeline.close()
    return frames, found, 1000 * spent / max(runs, 1)


def _pipeline_round(config_path: Path, frames: list[Frame], found: list[dict[str, Detections]]) -> tuple[float, int]:
    """One fresh pipeline over the frames: CPU ms per frame, and the new cases it opened."""
    config = load_config(config_path)
    camera = config.cameras[0]
    names = {m: d.class_names for m, d in load_detectors(config, models_for(camera)).items()}
    opened: list[CaseMessage] = []
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = CameraPipeline(config, camera.id, Path(scratch) / "state.db", names, opened.append)
        started = time.process_time()
        for frame, detections in zip(frames, found, strict=True):
            pipeline.admit(frame)
            pipeline.analyse(frame, detections)
        spent = time.process_time() - started
        pipeline.close()
    return 1000 * spent / len(frames), sum(m.kind == "new" for m in opened)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bundled = [REPO / "streams" / "demo.yaml", REPO / "streams" / "road.yaml"]
    parser.add_argument("--configs", nargs="+", type=Path, default=bundled)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    print(f"{'config':<12} {'frames':>6} {'detector ms':>12} {'pipeline ms':>12} {'rounds min-max':>16}", end="")
    print(f" {'ratio':>6} cases")
    for path in args.configs:
        frames, found, detector_ms = _detections(path)
        rounds = [_pipeline_round(path, frames, found) for _ in range(args.repeats)]
        times = [ms for ms, _ in rounds]
        cases = sorted({n for _, n in rounds})
        pipeline_ms = statistics.median(times)
        spread = f"{min(times):.2f}-{max(times):.2f}"
        same = str(cases[0]) if len(cases) == 1 else f"DIFFER {cases}"
        print(
            f"{path.name:<12} {len(frames):>6} {detector_ms:>12.2f} {pipeline_ms:>12.2f} {spread:>16}"
            f" {pipeline_ms / detector_ms:>6.3f} {same}"
        )


if __name__ == "__main__":
    main()
