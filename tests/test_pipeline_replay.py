"""The spine end to end: the bundled clip, model and config -> cases with evidence at a real receiver."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from scene_clips import vtest_frame_at

from edge.config import parse_config
from edge.runtime.replay import replay_clip

from conftest import DEMO_CONFIG, EDGE, REPO, VTEST

VAN_CENTRE_X, CAR_CENTRE_X = 683, 748  # the parked van and car at the top right of vtest (pixels)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """`edge demo` exactly as a new user runs it, into a private output folder."""
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [*EDGE, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    return proc, out


def _new_cases(run_dir: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "cases.jsonl").read_text().splitlines()]
    return [x for x in lines if x["kind"] == "new"]


def test_demo_gives_one_case_per_parked_vehicle(demo):
    proc, out = demo
    assert proc.returncode == 0, proc.stderr
    cases = _new_cases(out / "replay")
    assert len(cases) == 2
    centres = sorted((c["body"]["detection"]["box"][0] + c["body"]["detection"]["box"][2]) / 2 for c in cases)
    assert centres == pytest.approx([VAN_CENTRE_X, CAR_CENTRE_X], abs=25)
    for case in cases:
        body = case["body"]
        assert body["event"]["code"] == "0505"
        assert body["zone"]["id"] == "no-parking-gate"
        assert body["detection"]["class"] in {"car", "truck"}
        assert body["location"]["grid_code"] == "310101001001001"
    # the 120 s person rule: nobody stands that long in vtest
    assert not [c for c in cases if c["body"]["event"]["code"] == "0501"]
    assert re.search(r"\(\d+(\.\d+)?x real time\)", proc.stdout)


def test_demo_cases_reach_the_receiver_exactly_once_with_their_pictures(demo):
    proc, out = demo
    assert proc.returncode == 0, proc.stderr
    cases = _new_cases(out / "replay")
    with sqlite3.connect(out / "receiver.db") as db:
        stored = db.execute("SELECT case_id, kind FROM messages").fetchall()
        pictures = db.execute("SELECT message_id, name, data FROM pictures").fetchall()
    assert sorted(stored) == sorted((c["case_id"], "new") for c in cases)
    by_message = {(m, n): data for m, n, data in pictures}
    for case in cases:
        for item in case["body"]["evidence"]:
            data = by_message[(case["message_id"], item["name"])]
            assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert case["case_id"] in proc.stdout  # the user sees each case ...
        for path in case["pictures"].values():
            assert path in proc.stdout  # ... and where its pictures are


def test_evidence_shows_the_vehicle_inside_the_drawn_zone(demo):
    _, out = demo
    for case in _new_cases(out / "replay"):
        full = cv2.imread(case["pictures"]["01-full.jpg"])
        crop = cv2.imread(case["pictures"]["01-crop.jpg"])
        assert full.shape == (576, 768, 3)
        x1, y1, x2, y2 = (int(v) for v in case["body"]["detection"]["box"])
        assert crop.shape[0] >= (y2 - y1) and crop.shape[1] >= (x2 - x1)  # the object, with a margin
        clean = vtest_frame_at(case["body"]["evidence"][0]["media_s"])
        drawn = np.abs(full.astype(int) - clean.astype(int)).sum(axis=2) > 120
        # the zone outline (left edge at x = 0.80 * 767) and the box outline are drawn on the picture
        assert drawn[20:140, 612:616].mean() > 0.5
        assert drawn[y1 + 5 : y2 - 5, max(x1 - 2, 0) : x1 + 2].mean() > 0.3


def test_one_case_per_zone_when_the_rule_says_so(tmp_path):
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    camera = data["cameras"][0]
    camera["analysis"]["fps"] = 1
    camera["zones"] = camera["zones"][:1]
    camera["zones"][0]["rules"][0]["case_per"] = "zone"
    data["storage"]["dir"] = str(tmp_path / "var")
    config = parse_config(data, DEMO_CONFIG.parent)
    result = replay_clip(config, VTEST, tmp_path / "run", epoch=1_767_571_200.0)
    assert [m.kind for m in result.messages] == ["new"]
    assert result.messages[0].body["zone"]["id"] == "no-parking-gate"
    assert result.frames_analysed == pytest.approx(80, abs=2)  # 1 fps of media time over 79.5 s


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "streams/nope.avi", "--config", "streams/demo.yaml"], "streams/nope.avi: does not exist"),
        (["replay", "streams/demo.yaml", "--config", "streams/demo.yaml"], "demo.yaml"),
        (["replay", "streams/vtest.avi", "--config", "missing.yaml"], "config file missing.yaml does not exist"),
        (["replay", "streams/vtest.avi", "--config", "streams/demo.yaml", "--camera", "x"], "no camera 'x'"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(args, message, tmp_path):
    proc = subprocess.run([*EDGE, *args, "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
