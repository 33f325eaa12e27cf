"""Device faults in the ground truth and in `edge eval`'s scores: found, missed, spurious, gated.

The fault messages are the real ones: FaultReporter (edge.runtime.faults) fed with tamper states,
either scripted or measured by the real scene model on vtest footage that is shifted, covered and
blurred at test time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console
from scene_clips import blurred, covered, frames, shifted
from test_cases_support import EPOCH, make_config, rule

from edge.config.scene import SceneConfig
from edge.evaluate import (
    Evaluation,
    ExpectedFault,
    Thresholds,
    TruthError,
    contact_sheet,
    gate_faults,
    load_truth,
    match_cases,
    match_faults,
    observed_cases,
    observed_faults,
    score_faults,
)
from edge.evaluate.annotate import banner_text
from edge.evaluate.report import fault_table, problem_table
from edge.evaluate.run import ClipEvaluation, fault_warning, summarise
from edge.evaluate.score import TOTAL
from edge.runtime.faults import FaultReporter
from edge.runtime.replay import ReplayResult
from edge.scene import SceneModel, TamperStatus
from edge.types import CaseMessage, Detections, Frame

CONFIG = make_config([rule()])
CAMERA = CONFIG.cameras[0]  # "cam1"
PICTURE = np.zeros((48, 64, 3), np.uint8)
GATE = Thresholds(min_precision=1.0, min_recall=1.0)


def reported(states: Sequence[tuple[float, TamperStatus]], camera: str = "cam1") -> list[CaseMessage]:
    """What the worker sends for a sequence of (media time, tamper state) of one camera."""
    reporter = FaultReporter(CONFIG, CAMERA.model_copy(update={"id": camera}))
    messages = []
    for index, (t, status) in enumerate(states):
        message = reporter.observe(Frame(camera, PICTURE, t, EPOCH + t, index), status)
        if message is not None:
            messages.append(message)
    return messages


def tamper(*stretches: tuple[float, float, str], until: float = 60.0, step: float = 1.0) -> list[CaseMessage]:
    """Reported faults for stretches (from, to, kind) of an active tamper state, one frame per `step`."""
    states = []
    for t in np.arange(0.0, until, step):
        active = [(start, kind) for start, end, kind in stretches if start <= t < end]
        status = TamperStatus(active[0][1], active[0][0], "measured") if active else TamperStatus()  # type: ignore[arg-type]
        states.append((float(t), status))
    return reported(states)


def fault(kind: str, start: float, end: float, fault_id: str | None = None, camera: str = "cam1") -> ExpectedFault:
    return ExpectedFault(id=fault_id or f"{kind}-{start:g}", camera=camera, kind=kind, window=(start, end))  # type: ignore[arg-type]


def write_truth(folder: Path, data: dict) -> Path:
    (folder / "clip.avi").write_bytes(b"")
    path = folder / "clip.truth.yaml"
    path.write_text(yaml.safe_dump({"clip": "clip.avi", "camera": "cam1", **data}))
    return path


# -- what the worker reports becomes observed faults ------------------------------------------


def test_a_fault_is_one_stream_of_messages_with_the_kinds_it_reported():
    messages = tamper((10, 20, "moved"), (20, 25, "covered"), (40, 45, "blurred"))
    assert [(m.kind, m.body["fault"]["kind"]) for m in messages] == [
        ("new", "moved"),
        ("update", "covered"),
        ("cleared", "covered"),
        ("new", "blurred"),
        ("cleared", "blurred"),
    ]
    first, second = observed_faults(messages)
    assert first.kinds == ("moved", "covered") and (first.opened_s, first.cleared_s) == (10.0, 25.0)
    assert second.kinds == ("blurred",) and second.camera == "cam1" and second.case_id != first.case_id


def test_street_cases_and_faults_are_told_apart():
    case = CaseMessage("edge-test-cam1-0505-0001", 0, "new", {"camera": {"id": "cam1"}, "event": {"code": "0505"}})
    messages = [case, *tamper((10, 20, "covered"))]
    assert len(observed_faults(messages)) == 1
    with pytest.raises(KeyError):  # a case body without times: proves observed_cases looked at the case
        observed_cases(messages)
    assert observed_cases(messages[1:]) == []


def test_a_fault_that_opened_before_the_messages_began_is_not_scored():
    messages = tamper((0, 20, "moved"))
    assert observed_faults(messages[1:]) == []  # only its clearing is there


# -- matching: found, missed and every kind of spurious ----------------------------------------


@pytest.mark.parametrize(
    ("stretches", "truth", "found", "spurious", "missed"),
    [
        ([(10, 20, "moved")], [fault("moved", 8, 14)], 1, [], 0),
        ([(10, 20, "moved")], [fault("moved", 10, 10)], 1, [], 0),  # both window ends count
        ([], [fault("covered", 8, 14)], 0, [], 1),
        ([(10, 20, "moved")], [], 0, ["unexpected"], 0),
        ([(10, 13, "moved"), (15, 20, "moved")], [fault("moved", 8, 18)], 1, ["duplicate"], 0),  # flicker
        ([(10, 20, "moved")], [fault("covered", 8, 14)], 0, ["wrong kind"], 1),
        ([(10, 12, "moved"), (12, 20, "covered")], [fault("covered", 8, 14)], 1, [], 0),  # kind changed
        ([(30, 40, "blurred")], [fault("blurred", 8, 14)], 0, ["late"], 1),
        ([(3, 9, "blurred")], [fault("blurred", 8, 14)], 0, ["early"], 1),
        ([(10, 20, "moved")], [fault("moved", 8, 14, camera="cam2")], 0, ["unexpected"], 1),
        (
            [(10, 20, "moved"), (30, 40, "covered"), (50, 55, "blurred")],
            [fault("moved", 8, 14), fault("covered", 28, 34), fault("blurred", 48, 54)],
            3,
            [],
            0,
        ),
    ],
    ids=[
        "found",
        "on-the-window-edge",
        "missed",
        "unexpected",
        "duplicate",
        "wrong-kind",
        "kind-update-counts",
        "late",
        "early",
        "other-camera",
        "three-found",
    ],
)
def test_matching_table(stretches, truth, found, spurious, missed):
    outcome = match_faults(truth, observed_faults(tamper(*stretches)))
    assert len(outcome.matches) == found
    assert [s.kind for s in outcome.spurious] == spurious
    assert len(outcome.misses) == missed


def test_each_fault_is_found_once_by_the_nearest_item():
    truth = [fault("moved", 0, 30, "wide"), fault("moved", 9, 12, "tight")]
    outcome = match_faults(truth, observed_faults(tamper((10, 15, "moved"), (20, 25, "moved"))))
    assert sorted((m.expected.id, m.fault.opened_s) for m in outcome.matches) == [("tight", 10.0), ("wide", 20.0)]
    assert outcome.spurious == [] and outcome.misses == []


# -- scores and the gate ------------------------------------------------------------------------


def test_scores_per_kind_and_the_gate():
    truth = [fault("moved", 8, 14), fault("covered", 28, 34)]
    messages = tamper((10, 20, "moved"), (50, 55, "blurred"))  # covered missed, blurred spurious
    scores = score_faults([match_faults(truth, observed_faults(messages))])
    assert list(scores) == ["blurred", "covered", "moved", TOTAL]
    total = scores[TOTAL]
    assert (total.expected, total.cases, total.true_positives, total.misses) == (2, 2, 1, 1)
    assert total.precision == 0.5 and total.recall == 0.5
    assert scores["moved"].latencies == [10.0 - 8.0]  # reported at 10 s, window from 8 s
    assert scores["blurred"].to_json()["spurious"] == 1 and scores["blurred"].recall is None
    assert scores["covered"].to_json()["missed"] == 1
    failures = gate_faults(scores, GATE)
    assert "device fault blurred: precision 0.000 < --min-precision 1" in failures
    assert "device fault covered: recall 0.000 < --min-recall 1" in failures
    assert "device faults: precision 0.500 < --min-precision 1" in failures
    assert gate_faults(scores, Thresholds()) == []


def test_the_fault_json_says_found_spurious_and_missed():
    flicker = observed_faults(tamper((10, 13, "moved"), (15, 20, "moved")))
    scores = score_faults([match_faults([fault("moved", 8, 18)], flicker)])
    row = scores[TOTAL].to_json()
    assert {k: row[k] for k in ("kind", "expected", "reported", "found", "spurious", "duplicates", "missed")} == {
        "kind": TOTAL,
        "expected": 1,
        "reported": 2,
        "found": 1,
        "spurious": 1,
        "duplicates": 1,
        "missed": 0,
    }
    assert row["precision"] == 0.5 and row["recall"] == 1.0


def test_no_fault_expected_and_none_reported_passes():
    scores = score_faults([match_faults([], [])])
    assert scores[TOTAL].precision is None and scores[TOTAL].recall is None
    assert gate_faults(scores, GATE) == []


# -- the truth format -----------------------------------------------------------------------------


def test_faults_are_optional_and_take_default_ids(tmp_path):
    assert load_truth(write_truth(tmp_path, {"expected": []})).faults_for_camera("x") is None  # not scored
    assert load_truth(write_truth(tmp_path, {"faults": []})).faults_for_camera("x") == []  # none may be reported
    truth = load_truth(write_truth(tmp_path, {"faults": [{"kind": "moved", "window": [20, 26]}]}))
    [item] = truth.faults_for_camera("ignored: the file names its camera")
    assert (item.id, item.camera, item.kind, item.window) == ("fault-1", "cam1", "moved", (20.0, 26.0))


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ([{"kind": "tilted", "window": [1, 2]}], "faults[0].kind: Input should be 'moved', 'covered' or 'blurred'"),
        ([{"kind": "moved", "window": [5, 2]}], "window must be [from, to] media seconds with 0 <= from <= to"),
        ([{"kind": "moved"}], "faults[0].window"),
        ([{"kind": "moved", "window": [1, 2], "box": [0, 0, 1, 1]}], "faults[0].box"),
        ([{"id": "item-1", "kind": "moved", "window": [1, 2]}], "ids must be unique, repeated: ['item-1']"),
        ({"kind": "moved"}, "faults"),
    ],
    ids=["unknown-kind", "reversed-window", "no-window", "unknown-key", "id-taken-by-a-case", "not-a-list"],
)
def test_fault_mistakes_are_named(tmp_path, faults, message):
    path = write_truth(tmp_path, {"expected": [{"event": "0505", "zone": "z1", "window": [0, 9]}], "faults": faults})
    with pytest.raises(TruthError) as error:
        load_truth(path)
    assert str(path) in str(error.value) and message in str(error.value)


# -- end to end: the real scene model on real footage -------------------------------------------


def scene_faults() -> list[CaseMessage]:
    """vtest at 1 fps: shifted 20-28 s, covered 35-43 s, blurred 50-58 s; the scene model judges each frame."""
    edits = [(20.0, 28.0, lambda image: shifted(image, 40, 0)), (35.0, 43.0, covered), (50.0, 58.0, blurred)]

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        return next((change(image) for start, end, change in edits if start <= t < end), image)

    scene = SceneModel("cam1", SceneConfig(enabled=True, tamper_confirm_s=3.0))
    clip = frames(edit, end=65.0, camera="cam1")
    return reported([(f.media_time, scene.update(f, Detections.empty(), ["person"]).tamper) for f in clip])


def test_the_scene_models_faults_score_one_and_a_removed_item_fails_the_gate():
    messages = scene_faults()
    truth = [fault("moved", 20, 26, "re-aimed"), fault("covered", 35, 41, "bag"), fault("blurred", 50, 56, "spray")]
    full = score_faults([match_faults(truth, observed_faults(messages))])
    assert (full[TOTAL].true_positives, full[TOTAL].precision, full[TOTAL].recall) == (3, 1.0, 1.0)
    assert gate_faults(full, GATE) == []
    assert all(3.0 <= latency <= 4.0 for latency in full[TOTAL].latencies)  # tamper_confirm_s, one frame at most
    for removed in range(3):
        outcome = match_faults(truth[:removed] + truth[removed + 1 :], observed_faults(messages))
        assert [s.kind for s in outcome.spurious] == ["unexpected"]
        assert gate_faults(score_faults([outcome]), GATE), f"removing {truth[removed].id} must fail the gate"


# -- what `edge eval` prints and writes ----------------------------------------------------------


def evaluation(tmp_path: Path, faults: list | None, messages: list[CaseMessage]) -> Evaluation:
    truth = load_truth(write_truth(tmp_path, {} if faults is None else {"faults": faults}))
    result = ReplayResult("cam1", truth.clip, frames_analysed=60, media_seconds=60.0, messages=messages)
    expected = truth.faults_for_camera("cam1")
    outcome = None if expected is None else match_faults(expected, observed_faults(messages))
    warnings = fault_warning(truth, outcome, messages)
    clip = ClipEvaluation(truth, "cam1", tmp_path, result, match_cases([], observed_cases(messages)), outcome, warnings)
    return summarise([clip], GATE)


def test_the_report_shows_fault_scores_and_what_to_look_at(tmp_path):
    faults = [
        {"id": "re-aimed", "kind": "moved", "window": [8, 14]},
        {"id": "bag", "kind": "covered", "window": [28, 34]},
    ]
    result = evaluation(tmp_path, faults, tamper((10, 20, "moved"), (50, 55, "blurred")))
    assert not result.passed
    assert "device faults: recall 0.500 < --min-recall 1" in result.failures
    console = Console(width=200, record=True)
    console.print(fault_table(result))
    console.print(problem_table(result))
    text = console.export_text()
    assert "device faults per kind" in text and "what to look at" in text
    assert "fault missed" in text and "bag" in text and "fault spurious (unexpected)" in text
    report = result.to_json()
    assert report["faults"]["all"]["found"] == 1 and report["faults"]["all"]["spurious"] == 1
    [clip] = report["clips"]
    assert [m["expected"] for m in clip["faults"]["found"]] == ["re-aimed"]
    assert [(s["why"], s["kinds"]) for s in clip["faults"]["spurious"]] == [("unexpected", ["blurred"])]
    assert clip["faults"]["missed"] == [{"expected": "bag", "kind": "covered", "window": [28.0, 34.0]}]


def test_a_truth_file_without_faults_scores_none_but_says_they_were_reported(tmp_path):
    result = evaluation(tmp_path, None, tamper((10, 20, "moved")))
    assert result.passed and result.fault_scores is None and fault_table(result) is None
    assert result.to_json()["faults"] is None and result.to_json()["clips"][0]["faults"] is None
    [warning] = result.clips[0].warnings
    assert warning.startswith("1 device fault(s) reported (moved) but clip.truth.yaml has no 'faults' list")


def test_an_empty_fault_list_means_none_may_be_reported(tmp_path):
    assert evaluation(tmp_path, [], []).passed
    result = evaluation(tmp_path, [], tamper((10, 20, "covered")))
    assert result.failures == [
        "device fault covered: precision 0.000 < --min-precision 1",
        "device faults: precision 0.000 < --min-precision 1",
    ]


def test_the_contact_sheet_and_the_video_banner_caption_faults(tmp_path):
    messages = tamper((10, 20, "covered"))
    assert banner_text(messages[0]) == f"NEW DEVICE FAULT covered | {messages[0].case_id}"
    assert contact_sheet(messages, tmp_path / "sheet.png") == (1, 2)  # one fault, a view picture per message
