"""Eval parity in patrol mode: the bundled truth files, replayed as patrol cameras visited at the revisit
interval derived from their rules, give the cases continuous analysis gives (docs/patrol.md)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import yaml

from edge.cli import main
from edge.config import load_config
from edge.config.patrol import revisit_s

from conftest import STREAMS


@pytest.mark.parametrize(
    ("config_name", "truth_name"), [("demo.yaml", "vtest.truth.yaml"), ("road.yaml", "vtest-road.truth.yaml")]
)
def test_patrol_replay_opens_the_same_cases_within_a_revisit(tmp_path, config_name, truth_name) -> None:
    data = yaml.safe_load((STREAMS / config_name).read_text(encoding="utf-8"))
    for camera in data["cameras"]:
        camera["analysis"]["mode"] = "patrol"
        camera["source"]["url"] = str(STREAMS / camera["source"]["url"])
    data["models"][0]["path"] = str(STREAMS.parent / "models" / "centernet-mbv3-coco.onnx")
    data["storage"]["dir"] = str(tmp_path / "var")
    config_path = tmp_path / config_name
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    camera = load_config(config_path).cameras[0]
    interval = revisit_s(camera)
    shortest = min(r.min_duration_s for z in camera.zones for r in z.rules)
    assert shortest >= 3 * interval  # the truth files parity is promised on

    out = tmp_path / "eval"
    args = ["eval", "--config", str(config_path), str(STREAMS / truth_name), "--out", str(out)]
    args += ["--min-precision", "1", "--min-recall", "1", "--max-duplicates", "0"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(args)
    assert code == 0, printed.getvalue()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (clip,) = report["clips"]
    assert clip["false_positives"] == [] and clip["duplicates"] == [] and clip["misses"] == []
    # vehicles stand from the first frame: continuous analysis confirms them at min_duration_s (20 s)
    parked = report["classes"]["0505"]["latency_s"]["all"]
    assert len(parked) == 2 and all(20.0 <= s <= 20.0 + interval for s in parked)
    continuous_frames = 159  # analysis.fps 2 over the 79.5 s clip
    assert clip["frames_analysed"] < continuous_frames
