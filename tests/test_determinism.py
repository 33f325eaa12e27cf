"""The same clip, config and model give the same cases on every run: ids, times, boxes, bodies, pictures.

The two `edge eval` runs differ in everything that should not matter: one in the test process with
the annotated-video observer attached, one in a fresh process with another hash seed and no
observer. Neither batching (replay vs live worker) nor real-time pacing changes the outcome.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from test_eval_support import gated_run, passing_run

from edge.config import load_config, parse_config
from edge.infer import load_detector
from edge.ingest import read_file_frames
from edge.runtime.replay import replay_clip

from conftest import DEMO_CONFIG, VTEST


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    return passing_run(base), gated_run(base)


def test_two_replays_send_identical_case_messages(runs):
    first, second = runs
    a, b = first.lines(), second.lines()
    assert [x["message_id"] for x in a] == [x["message_id"] for x in b]
    assert len(a) == 2  # the van and the car: something to compare
    for x, y in zip(a, b, strict=True):
        assert x["body"] == y["body"]  # whole bodies: ids, times, boxes, scores, evidence digests


def test_two_replays_write_identical_evidence_pictures(runs):
    first, second = runs
    for x, y in zip(first.lines(), second.lines(), strict=True):
        assert x["pictures"].keys() == y["pictures"].keys()
        digests = {e["name"]: e["sha256"] for e in x["body"]["evidence"]}
        for name, path in x["pictures"].items():
            assert Path(path).parent != Path(y["pictures"][name]).parent  # two runs, two folders
            data = Path(path).read_bytes()
            assert data == Path(y["pictures"][name]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digests[name]


def test_two_evaluations_report_the_same_matches(runs):
    first, second = runs
    keep = ("matches", "duplicates", "false_positives", "misses", "frames_analysed", "media_seconds")
    a, b = first.report["clips"][0], second.report["clips"][0]
    assert {k: a[k] for k in keep} == {k: b[k] for k in keep}
    assert first.report["classes"] == second.report["classes"]


def test_detections_do_not_depend_on_how_frames_are_batched():
    """Replay batches frames (inference.max_batch); the live worker batches whatever is ready."""
    config = load_config(DEMO_CONFIG)
    detector = load_detector(config.model("coco"))
    frames = list(itertools.islice(read_file_frames(VTEST, "cam", fps=2.0), 6))
    together = detector.detect([f.image for f in frames])
    alone = [detector.detect([f.image])[0] for f in frames]
    assert sum(len(d) for d in together) > 10  # people, the van and the car
    for a, b in zip(together, alone, strict=True):
        assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.confidence, b.confidence)
        assert np.array_equal(a.class_id, b.class_id)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first 6 s of vtest (van and car parked, people walking), re-encoded."""
    path = tmp_path_factory.mktemp("clip") / "vtest-6s.mp4"
    with av.open(str(VTEST)) as src, av.open(str(path), "w") as dst:
        stream = dst.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for frame in itertools.islice(src.decode(video=0), 60):
            frame.pts = None
            dst.mux(stream.encode(frame.reformat(format="yuv420p")))
        dst.mux(stream.encode())
    return path


def test_real_time_pace_gives_the_same_cases(short_clip, tmp_path):
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    data["cameras"][0]["zones"][0]["rules"][0]["min_duration_s"] = 2  # cases within the 6 s
    data["storage"]["dir"] = str(tmp_path / "var")
    config = parse_config(data, DEMO_CONFIG.parent)
    paced = replay_clip(config, short_clip, tmp_path / "paced", epoch=1_767_571_200.0, realtime=True)
    fast = replay_clip(config, short_clip, tmp_path / "fast", epoch=1_767_571_200.0)
    assert [m.case_id for m in paced.new_cases] == [m.case_id for m in fast.new_cases]
    assert len(fast.new_cases) == 2
    assert [m.body for m in paced.messages] == [m.body for m in fast.messages]
    assert [m.pictures for m in paced.messages] == [m.pictures for m in fast.messages]
