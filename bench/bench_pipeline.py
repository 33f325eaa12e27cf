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
(OpenCV's own threads included), interleaved with as many rounds of the same pipeline writing its
state every frame (`storage.state_checkpoint_s: 0`, how every frame was written before checkpoints),
the baseline of the checkpoints in the same run. Reports per config and side the pipeline's CPU per
frame (median of the rounds), the detector's, their ratio, the checkpoints' gain, and the cases the
pipeline opened (the same in every round of both sides, or the bench says so).

Usage: .venv/bin/python bench/bench_pipeline.py [--configs streams/demo.yaml streams/road.yaml] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edge.cases import models_for
from edge.config import EdgeConfig, load_config
from edge.ingest import read_file_frames
from edge.runtime.pipeline import CameraPipeline, load_detectors
from edge.types import CaseMessage, Detections, Frame

from _common import REPO, machine


@dataclass
class _Clip:
    """A config's clip as the pipeline rounds replay it: frames, each one's detections, the model's names."""

    frames: list[Frame]
    found: list[dict[str, Detections]]  # empty where the change gate reuses the last detections
    names: dict[str, list[str]]
    detector_ms: float  # the detector's CPU per frame it ran on


def _detections(config_path: Path) -> _Clip:
    """The clip's analysed frames with the detections of each, the detector run once per admitted frame."""
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
    return _Clip(frames, found, names, 1000 * spent / max(runs, 1))


def _pipeline_round(config: EdgeConfig, clip: _Clip) -> tuple[float, int]:
    """One fresh pipeline over the frames: CPU ms per frame, and the new cases it opened."""
    opened: list[CaseMessage] = []
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state.db"
        pipeline = CameraPipeline(config, config.cameras[0].id, state, clip.names, opened.append)
        started = time.process_time()
        for frame, detections in zip(clip.frames, clip.found, strict=True):
            pipeline.admit(frame)
            pipeline.analyse(frame, detections)
        spent = time.process_time() - started
        pipeline.close()
    return 1000 * spent / len(clip.frames), sum(m.kind == "new" for m in opened)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bundled = [REPO / "streams" / "demo.yaml", REPO / "streams" / "road.yaml"]
    parser.add_argument("--configs", nargs="+", type=Path, default=bundled)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    print(f"{'config, side':<26} {'frames':>6} {'detector ms':>12} {'pipeline ms':>12} {'rounds min-max':>16}", end="")
    print(f" {'ratio':>6} cases")
    for path in args.configs:
        clip = _detections(path)
        config = load_config(path)
        every_frame = config.model_copy(update={"storage": config.storage.model_copy(update={"state_checkpoint_s": 0})})
        sides = {"every frame": every_frame, "checkpoints": config}
        rounds: dict[str, list[tuple[float, int]]] = {side: [] for side in sides}
        for _ in range(args.repeats):
            for side, side_config in sides.items():
                rounds[side].append(_pipeline_round(side_config, clip))
        cases = sorted({n for side in rounds.values() for _, n in side})
        same = str(cases[0]) if len(cases) == 1 else f"DIFFER {cases}"
        medians = {}
        for side, side_rounds in rounds.items():
            times = [ms for ms, _ in side_rounds]
            medians[side] = statistics.median(times)
            spread = f"{min(times):.2f}-{max(times):.2f}"
            print(
                f"{path.name + ' ' + side:<26} {len(clip.frames):>6} {clip.detector_ms:>12.2f} {medians[side]:>12.2f}"
                f" {spread:>16} {medians[side] / clip.detector_ms:>6.3f} {same}"
            )
        print(f"{path.name}: checkpoints / every frame {medians['checkpoints'] / medians['every frame']:.2f}")


if __name__ == "__main__":
    main()
