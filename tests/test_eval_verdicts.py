"""`edge eval --verdicts`: which cases the platform rejects before the second replay, and bad files.

The replay itself (the lawn stone's cases rejected, then none for it) is in test_eval_road.py."""

from __future__ import annotations

import contextlib
import io

import pytest

from edge.cli import main
from edge.evaluate.truth import TruthError, load_truth
from edge.evaluate.verdicts import Rejection, VerdictPlan, load_plan, rejections

from conftest import STREAMS


def test_a_verdicts_file_lists_case_ids_or_maps_them_to_reasons(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- cam-20260105T000000Z-aaa\n- cam-20260105T000000Z-bbb\n")
    assert load_plan(str(listed)).named == (
        Rejection("cam-20260105T000000Z-aaa"),
        Rejection("cam-20260105T000000Z-bbb"),
    )
    mapped = tmp_path / "map.yaml"
    mapped.write_text("cam-1: not_a_violation\ncam-2: wrong_object\n")
    assert load_plan(str(mapped)).named == (Rejection("cam-1", "not_a_violation"), Rejection("cam-2", "wrong_object"))
    assert load_plan("marked") == VerdictPlan(marked=True)
    for text in ("cam-1: ugly\n", "just text\n", "- 3\n"):
        listed.write_text(text)
        with pytest.raises(TruthError, match="list of false-alarm case ids"):
            load_plan(str(listed))


def test_marked_items_are_rejected_once_by_the_case_that_matched_them():
    truth = load_truth(STREAMS / "vtest-road.truth.yaml")
    matched = {"stone-20s": "c-20", "stone-10s": "c-10", "man-talking-10s": "c-man", "white-van": "c-van"}
    plan = VerdictPlan((Rejection("c-10", "other"),), marked=True)
    assert rejections(plan, truth, matched) == [Rejection("c-10", "other"), Rejection("c-20")]
    assert rejections(VerdictPlan(), truth, matched) == []


def test_a_bad_verdicts_file_is_an_input_error_before_any_replay(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGE_LANG", raising=False)
    bad = tmp_path / "verdicts.yaml"
    bad.write_text("case-1: because\n")
    args = ["eval", "--config", str(STREAMS / "road.yaml"), str(STREAMS / "vtest-road.truth.yaml")]
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        code = main([*args, "--out", str(tmp_path / "eval"), "--verdicts", str(bad)])
    assert code == 2 and "a verdicts file is a list" in err.getvalue()
    assert not (tmp_path / "eval").exists()
