"""The shared batched loop: batching across cameras, routing, drops, priority, delivery, stop."""

import threading
import time
from collections import deque
from pathlib import Path

import av
import numpy as np
import pytest
from onnx_graphs import end2end, model, names_json, yolov8

from edge.cases import models_for
from edge.config import InferenceConfig, ModelConfig, parse_config
from edge.heartbeat import Fault
from edge.infer import Detector, InferenceEngine, load_detector
from edge.infer import engine as engine_module
from edge.infer.batching import Request, plan_batch
from edge.types import Detections, Frame

REPO = Path(__file__).resolve().parents[1]
WHITE = np.full((480, 640, 3), 255, np.uint8)
BLACK = np.zeros((480, 640, 3), np.uint8)


@pytest.fixture(scope="module")
def detectors(tmp_path_factory) -> dict[str, Detector]:
    tmp = tmp_path_factory.mktemp("models")
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    meta = names_json(["person", "car", "truck"])
    return {
        "yolo": load_detector(ModelConfig(id="yolo", path=model(tmp / "a", yolov8(), metadata=meta), batch=16)),
        "e2e": load_detector(ModelConfig(id="e2e", path=model(tmp / "b", end2end(), 1, metadata=meta), batch=16)),
    }


class Collector:
    """on_result that records (camera, index, results) in delivery order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int, dict[str, Detections]]] = []

    def __call__(self, frame: Frame, results: dict[str, Detections]) -> None:
        self.got.append((frame.camera_id, frame.index, results))


def frame(camera: str, index: int, image: np.ndarray = WHITE, age_s: float = 0.0) -> Frame:
    return Frame(camera, image, index / 10, time.time() - age_s, index)


def engine(detectors, **cfg) -> InferenceEngine:
    """An engine whose frames only go stale where a test asks for it (a loaded CI box may be slow)."""
    return InferenceEngine(detectors, InferenceConfig(**{"queue_per_camera": 100, "staleness_s": 3600, **cfg}))


def test_batches_form_across_cameras_and_results_route_back(detectors):
    eng, out = engine(detectors, max_batch=4), Collector()
    images = {"cam1": WHITE, "cam2": BLACK, "cam3": WHITE[:300]}
    for i in range(4):
        for cam, image in images.items():
            eng.submit(frame(cam, i, image), ["yolo"], out)
    eng.start()
    eng.stop()
    stats = eng.stats()
    assert stats.models["yolo"].batch_sizes == {4: 3} and stats.models["yolo"].frames == 12
    assert stats.models["e2e"].frames == 0  # no camera asked for it
    assert {cam: s.analysed for cam, s in stats.cameras.items()} == {"cam1": 4, "cam2": 4, "cam3": 4}
    for cam, image in images.items():
        mine = [(index, results) for c, index, results in out.got if c == cam]
        assert [index for index, _ in mine] == [0, 1, 2, 3]  # in submit order per camera
        [expected] = detectors["yolo"].detect([image])
        for _, results in mine:
            assert list(results) == ["yolo"]
            np.testing.assert_allclose(results["yolo"].xyxy, expected.xyxy, atol=1e-4)


def test_models_run_only_for_cameras_that_need_them(detectors):
    eng, out = engine(detectors), Collector()
    for i in range(3):
        eng.submit(frame("plain", i), ["yolo"], out)
        eng.submit(frame("both", i), ["yolo", "e2e"], out)
    eng.start()
    eng.stop()
    stats = eng.stats()
    assert stats.models["yolo"].frames == 6 and stats.models["e2e"].frames == 3
    assert stats.models["e2e"].batch_sizes == {1: 3}  # a fixed batch-1 model runs one frame at a time
    keys = {cam: sorted(results) for cam, _, results in out.got}
    assert keys == {"plain": ["yolo"], "both": ["e2e", "yolo"]}
    both = [results for cam, _, results in out.got if cam == "both"]
    assert all(len(r["e2e"]) == 3 and len(r["yolo"]) == 3 for r in both)


def test_a_frame_without_models_passes_through_in_camera_order(detectors):
    """A change-gated frame needs no model: it is delivered right after the camera's earlier frames,
    never before them, and never dropped for being stale or crowding the camera's queue."""
    eng, out = engine(detectors, queue_per_camera=1, staleness_s=60), Collector()
    eng.submit(frame("cam", 0), ["yolo"], out)
    eng.submit(frame("cam", 1, age_s=120), [], out)
    eng.submit(frame("cam", 2), [], out)
    eng.submit(frame("other", 0), [], out)
    eng.start()
    eng.stop()
    assert [(c, i) for c, i, _ in out.got if c == "cam"] == [("cam", 0), ("cam", 1), ("cam", 2)]
    assert [r for c, i, r in out.got if (c, i) != ("cam", 0)] == [{}, {}, {}]
    stats = eng.stats()
    assert stats.models["yolo"].frames == 1
    assert stats.cameras["cam"].passed_through == 2 and stats.cameras["cam"].dropped_stale == 0
    assert stats.cameras["cam"].analysed == 3 and stats.cameras["other"].passed_through == 1


def test_stale_frames_are_dropped_and_counted(detectors):
    eng, out = engine(detectors, staleness_s=60), Collector()
    eng.submit(frame("cam1", 0, age_s=120), ["yolo", "e2e"], out)
    eng.submit(frame("cam1", 1), ["yolo"], out)
    eng.submit(frame("cam2", 0, age_s=61), ["yolo"], out)
    eng.start()
    eng.stop()
    stats = eng.stats()
    assert [(c, i) for c, i, _ in out.got] == [("cam1", 1)]
    assert stats.cameras["cam1"].dropped_stale == 1 and stats.cameras["cam2"].dropped_stale == 1
    assert stats.models["yolo"].dropped_stale == 2 and stats.models["e2e"].dropped_stale == 1
    assert stats.models["yolo"].frames == 1


def test_full_camera_queue_drops_its_oldest_frame(detectors):
    eng, out = engine(detectors, queue_per_camera=2), Collector()
    for i in range(5):
        eng.submit(frame("busy", i), ["yolo"], out)
    eng.submit(frame("quiet", 0), ["yolo"], out)
    eng.start()
    eng.stop()
    stats = eng.stats()
    assert [(c, i) for c, i, _ in out.got if c == "busy"] == [("busy", 3), ("busy", 4)]
    assert stats.cameras["busy"].dropped_overflow == 3 and stats.cameras["quiet"].dropped_overflow == 0
    assert stats.cameras["busy"].submitted == 5 and stats.cameras["busy"].analysed == 2


def test_slow_consumer_does_not_stall_inference(detectors):
    release, first_called = threading.Event(), threading.Event()
    delivered = Collector()

    def slow(f: Frame, results: dict[str, Detections]) -> None:
        first_called.set()
        release.wait()
        delivered(f, results)

    eng = engine(detectors, max_wait_ms=0)
    eng.start()
    eng.submit(frame("cam", 0), ["yolo"], slow)
    assert first_called.wait(60)
    for i in range(1, 6):  # the consumer is stuck; inference must still take these frames
        eng.submit(frame("cam", i), ["yolo"], delivered)
    deadline = time.monotonic() + 60
    while eng.stats().models["yolo"].frames < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eng.stats().models["yolo"].frames == 6 and delivered.got == []
    release.set()
    eng.stop()
    assert [i for _, i, _ in delivered.got] == [0, 1, 2, 3, 4, 5]


def test_failing_consumer_is_counted_and_others_still_served(detectors):
    out = Collector()

    def broken(f: Frame, results: dict[str, Detections]) -> None:
        raise RuntimeError("consumer bug")

    eng = engine(detectors)
    eng.submit(frame("bad", 0), ["yolo"], broken)
    eng.submit(frame("good", 0), ["yolo"], out)
    eng.start()
    eng.stop()
    assert eng.stats().callback_errors == 1 and [c for c, _, _ in out.got] == ["good"]


def test_stop_without_drain_leaves_frames_unanalysed(detectors):
    eng, out = engine(detectors), Collector()
    eng.start()
    eng.stop(drain=False)
    with pytest.raises(RuntimeError, match="no longer accepted"):
        eng.submit(frame("cam", 0), ["yolo"], out)


def test_a_stop_ends_though_a_runner_is_wedged(detectors, monkeypatch):
    """A runner stuck for good (here: blocked at its heartbeat) is named and left behind; the stop ends."""
    monkeypatch.setattr(engine_module, "STOP_WAIT_S", 0.5)
    eng = engine(detectors, runners=1)
    eng.start()
    runner = eng.supervised()[0]
    runner.heartbeat.inject(Fault.BLOCK)
    time.sleep(2 * engine_module.IDLE_BEAT_S)  # an idle runner beats this often: now it is blocked
    try:
        done = threading.Thread(target=eng.stop)
        done.start()
        done.join(10)
        assert not done.is_alive()
        assert runner.alive()  # still wedged, left behind (a daemon)
    finally:
        runner.heartbeat.release()


def test_bad_submissions_are_named(detectors):
    eng = engine(detectors)
    with pytest.raises(ValueError, match=r"camera 'cam'.*unknown models \['nope'\]; known: \['e2e', 'yolo'\]"):
        eng.submit(frame("cam", 0), ["nope"], Collector())
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        eng.submit(frame("cam", 0, np.zeros((4, 4), np.uint8)), ["yolo"], Collector())


def requests(spec: list[tuple[str, float, bool]]) -> dict[str, deque[Request]]:
    queues: dict[str, deque[Request]] = {}
    for camera, submitted, priority in spec:
        req = Request(Frame(camera, WHITE, 0.0, 0.0), {"m"}, Collector(), priority, submitted)
        queues.setdefault(camera, deque()).append(req)
    return queues


def order(plan) -> list[tuple[str, float]]:
    return [(r.frame.camera_id, r.submitted) for r in plan[1]]


def test_plan_waits_for_a_full_batch_or_the_oldest_frames_deadline():
    queues = requests([("a", 10.0, False), ("b", 10.01, False)])
    assert plan_batch(queues, {"m": 3}, set(), 0.05, now=10.02) == pytest.approx(0.03)
    assert order(plan_batch(queues, {"m": 3}, set(), 0.05, now=10.05)) == [("a", 10.0), ("b", 10.01)]
    assert order(plan_batch(queues, {"m": 2}, set(), 0.05, now=10.02)) == [("a", 10.0), ("b", 10.01)]
    assert plan_batch({}, {"m": 2}, set(), 0.05, now=10.0) is None


def test_plan_round_robins_cameras_and_puts_priority_first():
    queues = requests([("busy", 1.0, False), ("busy", 2.0, False), ("busy", 3.0, False), ("calm", 4.0, False)])
    assert order(plan_batch(queues, {"m": 2}, set(), 0.0, now=9.0)) == [("busy", 1.0), ("calm", 4.0)]
    assert order(plan_batch(queues, {"m": 2}, {"calm"}, 0.0, now=9.0)) == [("calm", 4.0), ("busy", 1.0)]
    queues = requests([("a", 1.0, False), ("b", 2.0, True)])
    assert order(plan_batch(queues, {"m": 1}, set(), 0.0, now=9.0)) == [("b", 2.0)]


def test_bundled_model_through_the_engine_equals_direct_detection():
    with av.open(str(REPO / "streams" / "vtest.avi")) as container:
        images = [f.to_ndarray(format="bgr24") for _, f in zip(range(6), container.decode(video=0), strict=False)]
    coco = load_detector(ModelConfig(id="coco", path=REPO / "models" / "centernet-mbv3-coco.onnx", batch=3))
    eng, out = (
        InferenceEngine({"coco": coco}, InferenceConfig(max_batch=3, queue_per_camera=3, staleness_s=3600)),
        Collector(),
    )
    for i, image in enumerate(images):
        eng.submit(frame(f"cam{i % 2}", i, image), ["coco"], out)
    eng.start()
    eng.stop()
    assert eng.stats().models["coco"].batch_sizes == {3: 2}
    for (_, _, results), direct in zip(sorted(out.got, key=lambda g: g[1]), coco.detect(images), strict=True):
        np.testing.assert_allclose(results["coco"].xyxy, direct.xyxy, atol=1e-2)
        np.testing.assert_array_equal(results["coco"].class_id, direct.class_id)


def test_models_needed_follow_the_cameras_rules(tmp_path: Path):
    """Two models in one config: each camera's frames go only to the models its enabled detector
    rules name (a static_object rule runs on the scene model, not a detector)."""

    def camera(cam: str, *rules: tuple[str, str, bool]) -> dict:
        rows = [{"id": r, "event_code": "0505", "classes": ["car"], "model": m, "enabled": on} for r, m, on in rules]
        rows += [{"id": "piles", "kind": "static_object", "event_code": "0507", "model": "coco"}]
        zones = [{"id": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": rows}] if rows else []
        return {"id": cam, "source": {"url": f"{cam}.mp4"}, "zones": zones}

    data = {
        "models": [{"id": "coco", "path": "m1.onnx"}, {"id": "plates", "path": "m2.onnx"}],
        "cameras": [
            camera("a", ("r1", "default", True)),
            camera("b", ("r1", "plates", True), ("r2", "coco", False)),
            camera("c"),
        ],
    }
    cameras = {c.id: models_for(c) for c in parse_config(data, tmp_path).cameras}
    assert cameras == {"a": ["coco"], "b": ["plates"], "c": []}


@pytest.mark.parametrize("runners", [1, 2, 4])
def test_parallel_runners_analyse_each_frame_once_and_keep_camera_order(detectors, runners):
    eng, out = engine(detectors, max_batch=2, max_wait_ms=0, runners=runners), Collector()
    eng.start()
    for i in range(30):
        for cam in ("cam1", "cam2", "cam3"):
            eng.submit(frame(cam, i, WHITE if i % 2 else BLACK), ["yolo", "e2e"], out)
    eng.stop()
    for cam in ("cam1", "cam2", "cam3"):
        mine = [(index, results) for c, index, results in out.got if c == cam]
        assert [index for index, _ in mine] == list(range(30))  # each frame once, in submit order
        assert all(set(results) == {"yolo", "e2e"} for _, results in mine)
        assert [len(results["yolo"]) > 0 for _, results in mine] == [i % 2 == 1 for i in range(30)]
    assert eng.stats().models["yolo"].frames == 90


def test_cpu_models_run_one_frame_at_a_time_unless_configured(tmp_path):
    """On the CPU per-frame time grows with the batch (bench/bench_infer.py), so the default batch is 1."""
    path = REPO / "models" / "centernet-mbv3-coco.onnx"
    assert load_detector(ModelConfig(id="m", path=path)).preferred_batch == 1
    assert load_detector(ModelConfig(id="m", path=path, batch=4)).preferred_batch == 4
    eng, out = engine({"m": load_detector(ModelConfig(id="m", path=path))}, max_batch=8), Collector()
    for i in range(4):
        eng.submit(frame(f"cam{i}", 0, BLACK), ["m"], out)
    eng.start()
    eng.stop()
    assert eng.stats().models["m"].batch_sizes == {1: 4}
