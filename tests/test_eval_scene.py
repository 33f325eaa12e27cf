"""`edge eval` on the composited litter + tamper clip (tests/test_replay_scene.py) with the real model:
a truth file listing the parked vehicles, the litter case and the three device faults scores 1.0 and
passes; without one of the faults the same clip fails the gate (exit 1) and says which fault is spurious."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml
from scene_clips import write_clip
from test_replay_scene import LITTER_ON, TAMPER, edit, scene_config

from edge.cli import main

from conftest import DEMO_CONFIG, STREAMS

GATE = ["--min-precision", "1", "--min-recall", "1", "--min-f1", "1", "--max-duplicates", "0"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "litter-and-tamper.mp4", edit, fps=4.0, end=115.0)


def truth(clip: Path, faults: list[str]) -> dict:
    parked = yaml.safe_load((STREAMS / "vtest.truth.yaml").read_text())["expected"]  # the van and the car
    litter = {"id": "litter", "event": "0102", "zone": "road", "window": [LITTER_ON, LITTER_ON + 25]}
    windows = [{"id": kind, "kind": kind, "window": list(TAMPER[kind])} for kind in faults]
    return {"clip": str(clip), "camera": "campus-north", "expected": [*parked, litter], "faults": windows}


def evaluate(folder: Path, clip: Path, faults: list[str]) -> tuple[int, dict, str]:
    folder.mkdir()
    config = scene_config(clip, folder / "var")
    for model in config["models"]:
        model["path"] = str((DEMO_CONFIG.parent / model["path"]).resolve())
    (folder / "edge.yaml").write_text(yaml.safe_dump(config))
    (folder / "clip.truth.yaml").write_text(yaml.safe_dump(truth(clip, faults)))
    args = ["eval", "-c", str(folder / "edge.yaml"), str(folder / "clip.truth.yaml"), "--out", str(folder / "out")]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main([*args, *GATE])
    return code, json.loads((folder / "out" / "report.json").read_text()), output.getvalue()


def test_cases_and_device_faults_score_one_and_a_removed_fault_fails_the_gate(clip, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the tables unfolded, as on a tester's terminal
    code, report, output = evaluate(tmp_path / "all", clip, list(TAMPER))
    assert code == 0, output
    assert report["passed"] and report["classes"]["all"]["true_positives"] == 3  # van, car, litter
    faults = report["faults"]["all"]
    assert (faults["expected"], faults["found"], faults["spurious"], faults["missed"]) == (3, 3, 0, 0)
    assert (faults["precision"], faults["recall"]) == (1.0, 1.0)
    assert "device faults per kind" in output

    code, report, output = evaluate(tmp_path / "no-cover", clip, ["moved", "blurred"])
    assert code == 1, output
    assert report["failures"] == [
        "device fault covered: precision 0.000 < --min-precision 1",
        "device fault covered: f1 0.000 < --min-f1 1",
        "device faults: precision 0.667 < --min-precision 1",
        "device faults: f1 0.800 < --min-f1 1",
    ]
    [spurious] = report["clips"][0]["faults"]["spurious"]
    assert (spurious["why"], spurious["kinds"]) == ("unexpected", ["covered"])
    assert "fault spurious (unexpected)" in output
