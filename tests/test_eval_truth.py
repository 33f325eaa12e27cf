"""Ground-truth files: the documented format loads, every mistake is one clear error naming file and field,
and `edge eval` turns bad input into exit status 2 with a message, before replaying anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.cli import main
from edge.config import load_config
from edge.evaluate import TruthError, load_truth
from edge.evaluate.run import truth_camera, truth_warnings

from conftest import DEMO_CONFIG, STREAMS

GOOD = {
    "clip": "clip.avi",
    "camera": "cam",
    "expected": [
        {"event": "0505", "zone": "gate", "window": [0, 30], "box": [0.8, 0.1, 0.9, 0.2]},
        {"id": "car", "event": "0505", "zone": "gate", "window": [5, 35]},
    ],
}


def write(folder: Path, data: object, name: str = "clip.truth.yaml") -> Path:
    (folder / "clip.avi").write_bytes(b"")  # only its existence is checked when loading
    path = folder / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_the_documented_format_loads_with_defaults(tmp_path):
    truth = load_truth(write(tmp_path, GOOD))
    assert truth.clip == (tmp_path / "clip.avi").resolve()  # relative to the truth file
    assert truth.name == "clip"
    first, second = truth.for_camera("ignored: the file names its camera")
    assert (first.id, second.id) == ("item-1", "car")
    assert first.camera == second.camera == "cam"
    assert first.iou_needed == 0.3 and second.iou_needed is None  # a box without a tolerance: IoU 0.3


def test_items_default_to_the_configs_first_camera(tmp_path):
    truth = load_truth(write(tmp_path, {k: v for k, v in GOOD.items() if k != "camera"}))
    assert {item.camera for item in truth.for_camera("campus-north")} == {"campus-north"}


def test_the_bundled_truth_file_is_valid_for_the_demo_config():
    truth = load_truth(STREAMS / "vtest.truth.yaml")
    config = load_config(DEMO_CONFIG)
    assert truth.clip == (STREAMS / "vtest.avi").resolve()
    camera = truth_camera(config, truth)
    assert camera.id == "campus-north"
    assert truth_warnings(truth, camera) == []
    assert [item.id for item in truth.spec.expected] == ["white-van", "blue-car"]


def item(**fields: object) -> dict[str, object]:
    return {"event": "0505", "zone": "gate", "window": [0, 30], **fields}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("clip: [unclosed", "is not valid YAML"),
        ("- just a list", "expected a mapping with 'clip' and 'expected'"),
        ({"expected": []}, "clip: Field required"),
        ({"clip": "clip.avi", "expect": []}, "expect: Extra inputs are not permitted"),
        ({"clip": "missing.avi"}, "clip 'missing.avi' not found"),
        ({"clip": "clip.avi", "version": 2}, "version: Input should be 1"),
        ("clip: clip.avi\nexpected: [{event: 0505, zone: z, window: [0, 1]}]", "must be quoted like '0505'"),
        ({"clip": "clip.avi", "expected": [item(event="505")]}, "expected[0].event: event code must be 4 digits"),
        ({"clip": "clip.avi", "expected": [item(window=[30, 10])]}, "expected[0].window: window must be [from, to]"),
        ({"clip": "clip.avi", "expected": [item(window=[-1, 10])]}, "0 <= from <= to"),
        ({"clip": "clip.avi", "expected": [item(window=[0, float("nan")])]}, "0 <= from <= to"),
        ({"clip": "clip.avi", "expected": [item(window=[0, float("inf")])]}, "0 <= from <= to"),
        ({"clip": "clip.avi", "expected": [item(window=[1])]}, "expected[0].window"),
        ({"clip": "clip.avi", "expected": [item(box=[0.5, 0.5, 0.4, 0.6])]}, "expected[0].box: box must be"),
        ({"clip": "clip.avi", "expected": [item(box=[0, 0, 1.2, 1])]}, "0 <= x1 < x2 <= 1"),
        ({"clip": "clip.avi", "expected": [item(min_iou=0.5)]}, "min_iou / max_centre_distance need a box"),
        (
            {"clip": "clip.avi", "expected": [item(box=[0, 0, 1, 1], min_iou=0.5, max_centre_distance=0.1)]},
            "either min_iou or max_centre_distance, not both",
        ),
        ({"clip": "clip.avi", "expected": [item(min_iou=0)]}, "expected[0].min_iou"),
        ({"clip": "clip.avi", "expected": [item(id="a"), item(id="a")]}, "ids must be unique, repeated: ['a']"),
        ({"clip": "clip.avi", "expected": [item(), item(id="item-1")]}, "repeated: ['item-1']"),
        ({"clip": "clip.avi", "expected": [item(id="has space")]}, "expected[0].id"),
    ],
)
def test_mistakes_are_one_clear_error(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(TruthError) as caught:
        load_truth(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_truth_file_is_named(tmp_path):
    with pytest.raises(TruthError, match=r"nope\.yaml does not exist"):
        load_truth(tmp_path / "nope.yaml")


def test_items_no_rule_can_produce_are_warned_about(tmp_path):
    data = {
        "clip": "clip.avi",
        "expected": [
            item(id="typo", zone="no-parking-gat"),
            item(id="no-rule", event="0102", zone="no-parking-gate"),
            item(id="elsewhere", camera="campus-south", zone="no-parking-gate"),
            item(id="fine", zone="no-parking-gate"),
        ],
    }
    config = load_config(DEMO_CONFIG)
    truth = load_truth(write(tmp_path, data))
    warnings = truth_warnings(truth, truth_camera(config, truth))
    assert len(warnings) == 3
    assert warnings[0].startswith("typo: camera 'campus-north' has no zone 'no-parking-gat'")
    assert warnings[1] == "no-rule: zone 'no-parking-gate' has no enabled rule for event 0102"
    assert warnings[2].startswith("elsewhere: camera 'campus-south' is not the replayed camera")


def _eval(capsys, *args: str) -> tuple[int, str]:
    code = main(["eval", "--config", str(DEMO_CONFIG), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_eval_names_a_truth_file_mistake_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, {"clip": "clip.avi", "expected": [item(window=[30, 10])]})
    code, output = _eval(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert f"edge eval: error: {path} is invalid" in output and "expected[0].window" in output
    assert "Traceback" not in output


def test_eval_names_a_camera_the_config_lacks_before_replaying(tmp_path, capsys):
    good = write(tmp_path, {"clip": str((STREAMS / "vtest.avi").resolve()), "camera": "campus-north"}, "a.yaml")
    bad = write(tmp_path, {"clip": str((STREAMS / "vtest.avi").resolve()), "camera": "campus-south"}, "b.yaml")
    code, output = _eval(capsys, str(good), str(bad), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "camera 'campus-south' is not in the config; cameras: ['campus-north']" in output
    assert not (tmp_path / "out").exists()  # the good file's clip was not replayed first


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--min-precision", "1.5", "1.5 is outside 0..1"),
        ("--min-recall", "most", "'most' is not a number between 0 and 1"),
        ("--max-duplicates", "-1", "'-1' is not a whole number >= 0"),
        ("--max-latency", "-3", "-3 must be >= 0 seconds"),
    ],
)
def test_eval_rejects_thresholds_that_make_no_sense(capsys, flag, value, message):
    with pytest.raises(SystemExit) as exited:
        main(["eval", "--config", str(DEMO_CONFIG), str(STREAMS / "vtest.truth.yaml"), f"{flag}={value}"])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
