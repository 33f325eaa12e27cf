"""Our IoU + distance tracker against ByteTrack-style libraries, on the same detections of the bundled clip.

The bundled detector runs once over streams/vtest.avi at each analysis rate (default 2 and 1
analysed frames/s), keeping boxes down to a score of 0.1 (ByteTrack's low-score band); every
tracker then gets the same cached detections in media-time order:
- `edge.track.Tracker` with the demo config's `tracker:` section, fed what the pipeline feeds it
  (boxes at or above the model's `score_threshold`);
- `supervision.ByteTrack` (deprecated in supervision 0.28, gone in 0.31: install 0.30.x), once with
  its defaults (only `frame_rate` set) and once set like ours;
- `trackers.ByteTrackTracker`, `trackers.OCSORTTracker` and `trackers.CBIoUTracker` (the maintained
  successor, Roboflow's `trackers` package), set like ours.
"Set like ours": tracks start from boxes at the model's score threshold, live `tracker.max_gap_s`
without a detection, and need one frame to be confirmed. A library that is not importable is
skipped with a note. Neither library is a dependency of edge. `trackers` (and supervision up to
0.29) require opencv-python, which clashes with the project's opencv-python-headless (both own
the `cv2` package), so install them without dependencies, outside .venv; its headless cv2 serves:

    .venv/bin/python -m pip install --target /tmp/svpkgs --no-deps supervision==0.30.9 trackers==2.6.1 \\
        "pydeprecate<0.14" scipy pillow tqdm defusedxml rich markdown-it-py mdurl pygments
    PYTHONPATH=/tmp/svpkgs .venv/bin/python bench/bench_tracker.py [--fps 2 1]

Metrics (no ground truth needed): for each of the two vehicles parked at the top right for the
whole clip (the demo's no-parking zone), the distinct ids on its best-scoring box (ideal 1), on any
vehicle box over it (the detector also boxes the van as a car and the car as a truck, at lower
scores), and the share of analysed frames in which its best box had an id; person tracks, their
mean and median length in frames; tracks seen in one frame only; boxes at or above the score
threshold left without an id; time per frame.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.cases import models_for
from edge.config import EdgeConfig, load_config
from edge.config.tracking import TrackerConfig
from edge.infer import Detector, load_detector
from edge.ingest import read_file_frames
from edge.track import Tracker
from edge.types import Detections
from edge.zones.geometry import box_iou

from _common import REPO, VTEST, machine

LOW_SCORE = 0.1  # ByteTrack's second association uses boxes between this and its high threshold
PARKED_REGION = (0.8, 0.26)  # box centre right of x = 0.8 W and above y = 0.26 H: the two parked vehicles
VEHICLES = ("car", "truck", "bus")
TrackFn = Callable[[Detections, float], np.ndarray]  # tracker id per row (-1: none) for boxes at media time t


@dataclass(frozen=True)
class Clip:
    """Cached detections of one analysis rate, with what the metrics need to read them."""

    fps: float
    times: list[float]
    detections: list[Detections]
    width: int
    height: int
    names: list[str]
    floor: float  # the model's score threshold: what the pipeline's tracker sees


def detect_clip(config: EdgeConfig, detector: Detector, fps: float) -> Clip:
    camera = config.cameras[0]
    times, found = [], []
    width = height = 0
    for frame in read_file_frames(VTEST, camera.id, fps):
        times.append(frame.media_time)
        found.append(detector.detect([frame.image])[0])
        width, height = frame.width, frame.height
    floor = config.model(models_for(camera)[0]).score_threshold
    return Clip(fps, times, found, width, height, list(detector.class_names), floor)


def ours(config: TrackerConfig, floor: float) -> TrackFn:
    tracker = Tracker(config)

    def update(dets: Detections, t: float) -> np.ndarray:
        ids = np.full(len(dets), -1, np.int64)
        kept = dets.confidence >= floor
        ids[kept] = tracker.update(dets[kept], t).tracker_id
        return ids

    return update


def library(update_sv: Callable[..., object]) -> TrackFn:
    """Adapt a supervision-style `update(sv.Detections) -> sv.Detections` (subset, maybe reordered)."""
    import supervision as sv

    def update(dets: Detections, t: float) -> np.ndarray:
        rows = np.arange(len(dets))
        given = sv.Detections(
            xyxy=dets.xyxy.astype(np.float64), confidence=dets.confidence, class_id=dets.class_id, data={"row": rows}
        )
        out = update_sv(given)
        ids = np.full(len(dets), -1, np.int64)
        if len(out):
            ids[out.data["row"]] = out.tracker_id
        return ids

    return update


def library_trackers(config: TrackerConfig, clip: Clip) -> tuple[dict[str, Callable[[], TrackFn]], list[str]]:
    """Factories of the library trackers that import here, and a note for each that does not."""
    made: dict[str, Callable[[], TrackFn]] = {}
    notes: list[str] = []
    lost = round(config.max_gap_s * 30)  # the libraries count lost time in frames of a 30 fps video
    try:
        import supervision as sv

        byte_track = sv.ByteTrack  # raises AttributeError from supervision 0.31 on
    except (ImportError, AttributeError) as exc:
        notes.append(f"supervision.ByteTrack skipped: {exc} (install supervision==0.30.9, see the docstring)")
    else:

        def sv_track(**kw: float) -> TrackFn:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its own deprecation notice
                return library(byte_track(frame_rate=clip.fps, **kw).update_with_detections)

        made["supervision ByteTrack, defaults"] = sv_track
        made["supervision ByteTrack, like ours"] = lambda: sv_track(
            track_activation_threshold=clip.floor, lost_track_buffer=lost
        )
    try:
        import trackers
    except ImportError as exc:
        notes.append(f"trackers skipped: {exc} (install trackers==2.6.1, see the docstring)")
    else:
        like_ours = {
            "frame_rate": clip.fps,
            "lost_track_buffer": lost,
            "minimum_consecutive_frames": 1,
            "high_conf_det_threshold": clip.floor,
        }
        activation = {"track_activation_threshold": clip.floor}
        for name, cls, extra in (
            ("trackers ByteTrack, like ours", trackers.ByteTrackTracker, activation),
            ("trackers OC-SORT, like ours", trackers.OCSORTTracker, {}),
            ("trackers C-BIoU, like ours", trackers.CBIoUTracker, activation),
        ):
            made[name] = lambda cls=cls, extra=extra: library(cls(**like_ours, **extra).update)
    return made, notes


@dataclass(frozen=True)
class Scores:
    parked_ids: list[int]  # per parked vehicle, left to right: distinct ids on its best-scoring box
    parked_all_ids: list[int]  # ... on any vehicle box over it (the detector also boxes it as another class)
    parked_cover: list[float]  # share of analysed frames in which its best box had an id
    person_tracks: int
    person_mean: float
    person_median: float
    single_frame: int
    untracked: int
    ms_per_frame: float


def parked_vehicles(clip: Clip) -> list[np.ndarray]:
    """Reference boxes of the vehicles that stand in the parked region in most analysed frames."""
    vehicle_ids = [clip.names.index(n) for n in VEHICLES if n in clip.names]
    seeds: list[np.ndarray] = []
    seen: list[int] = []
    for dets in clip.detections:
        dets = dets[(dets.confidence >= clip.floor) & np.isin(dets.class_id, vehicle_ids)]
        centre = dets.center
        for box in dets.xyxy[
            (centre[:, 0] > PARKED_REGION[0] * clip.width) & (centre[:, 1] < PARKED_REGION[1] * clip.height)
        ]:
            iou = box_iou(np.array(seeds).reshape(-1, 4), box[None])[:, 0]
            if len(iou) and iou.max() >= 0.5:
                seen[int(iou.argmax())] += 1
            else:
                seeds.append(box)
                seen.append(1)
    parked = [s for s, n in zip(seeds, seen, strict=True) if n >= 0.5 * len(clip.detections)]
    return sorted(parked, key=lambda b: float(b[0]))


def score(clip: Clip, track: TrackFn, parked: list[np.ndarray]) -> Scores:
    vehicle_ids = [clip.names.index(n) for n in VEHICLES if n in clip.names]
    person = clip.names.index("person")
    lengths: dict[int, int] = {}
    person_rows: dict[int, int] = {}
    main_ids: list[set[int]] = [set() for _ in parked]
    all_ids: list[set[int]] = [set() for _ in parked]
    covered = [0] * len(parked)
    untracked = 0
    spent = 0.0
    for dets, t in zip(clip.detections, clip.times, strict=True):
        started = time.perf_counter()
        ids = track(dets, t)
        spent += time.perf_counter() - started
        untracked += int(np.sum((ids < 0) & (dets.confidence >= clip.floor)))
        for i in np.unique(ids[ids >= 0]):
            lengths[int(i)] = lengths.get(int(i), 0) + 1
        for i in ids[(ids >= 0) & (dets.class_id == person)]:
            person_rows[int(i)] = person_rows.get(int(i), 0) + 1
        vehicles = np.isin(dets.class_id, vehicle_ids) & (dets.confidence >= clip.floor)
        iou = box_iou(np.array(parked).reshape(-1, 4), dets.xyxy)
        for k in range(len(parked)):
            on = vehicles & (iou[k] >= 0.5)
            if not on.any():
                continue
            all_ids[k].update(int(i) for i in ids[on & (ids >= 0)])
            best = int(np.argmax(np.where(on, dets.confidence, -1.0)))  # the vehicle's own box, not a duplicate
            if ids[best] >= 0:
                main_ids[k].add(int(ids[best]))
                covered[k] += 1
    # a person track: an id given mostly to person boxes (the libraries do not keep classes apart)
    people = [lengths[i] for i, rows in person_rows.items() if rows * 2 > lengths[i]]
    return Scores(
        [len(s) for s in main_ids],
        [len(s) for s in all_ids],
        [c / len(clip.detections) for c in covered],
        len(people),
        statistics.fmean(people) if people else 0.0,
        statistics.median(people) if people else 0.0,
        sum(1 for n in lengths.values() if n == 1),
        untracked,
        spent / len(clip.detections) * 1000,
    )


def report(clip: Clip, factories: dict[str, Callable[[], TrackFn]]) -> None:
    parked = parked_vehicles(clip)
    boxes = len(clip.detections)
    kept = sum(int(np.sum(d.confidence >= clip.floor)) for d in clip.detections)
    low = sum(len(d) for d in clip.detections) - kept
    print(
        f"\n{clip.fps:g} analysed fps: {boxes} frames, {kept} boxes >= {clip.floor:g} and {low} more in "
        f"[{LOW_SCORE:g}, {clip.floor:g}); {len(parked)} parked vehicles found (left to right)"
    )
    head = (
        f"{'tracker':<34} {'parked ids':>10} {'all boxes':>9} {'cover':>9} {'persons':>7} {'mean len':>8} "
        f"{'median':>6} {'len 1':>5} {'no id':>5} {'ms/frame':>8}"
    )
    print(head)
    for name, factory in factories.items():
        s = score(clip, factory(), parked)
        ids = "/".join(str(n) for n in s.parked_ids)
        every = "/".join(str(n) for n in s.parked_all_ids)
        cover = "/".join(f"{c:.2f}" for c in s.parked_cover)
        print(
            f"{name:<34} {ids:>10} {every:>9} {cover:>9} {s.person_tracks:>7} {s.person_mean:>8.1f} "
            f"{s.person_median:>6.1f} {s.single_frame:>5} {s.untracked:>5} {s.ms_per_frame:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, nargs="+", default=[2.0, 1.0], help="analysis rates to compare")
    parser.add_argument("--config", default=REPO / "streams" / "demo.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    model = config.model(models_for(config.cameras[0])[0])
    detector = load_detector(model.model_copy(update={"score_threshold": LOW_SCORE}))
    print(f"machine: {machine()}; CPU only")
    print(f"tracker config: {config.tracker.model_dump()}; detector {model.id!r} ({detector.format})")
    notes_shown = False
    for fps in args.fps:
        started = time.perf_counter()
        clip = detect_clip(config, detector, fps)
        print(f"detections at {fps:g} fps cached in {time.perf_counter() - started:.1f} s")
        libraries, notes = library_trackers(config.tracker, clip)
        if not notes_shown:
            for note in notes:
                print(f"note: {note}")
            notes_shown = True
        report(clip, {"edge Tracker (IoU + distance)": lambda clip=clip: ours(config.tracker, clip.floor), **libraries})


if __name__ == "__main__":
    main()
