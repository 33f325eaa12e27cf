"""`edge eval` on the bundled clip and its ground truth: the demo rule set passes, a gate it can't meet fails."""

from __future__ import annotations

import pytest
from test_eval_support import gated_run, passing_run


@pytest.fixture(scope="module")
def passing(tmp_path_factory):
    return passing_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    return gated_run(tmp_path_factory.getbasetemp())


def test_bundled_clip_meets_its_ground_truth(passing):
    assert passing.code == 0, passing.output
    report = passing.report
    assert report["passed"] is True and report["failures"] == []
    assert set(report["classes"]) == {"0505", "all"}  # the 120 s person rule opens nothing, as expected
    parked = report["classes"]["0505"]
    assert (parked["expected"], parked["true_positives"], parked["false_positives"]) == (2, 2, 0)
    assert (parked["duplicates"], parked["misses"]) == (0, 0)
    assert (parked["precision"], parked["recall"], parked["f1"]) == (1.0, 1.0, 1.0)
    # both vehicles stand there from the first frame; the rule needs 20 s of media time
    assert parked["latency_s"]["all"] == [20.0, 20.0]
    (clip,) = report["clips"]
    assert clip["camera"] == "campus-north" and clip["frames_analysed"] == 159 and clip["warnings"] == []
    classes = {m["expected"]: _case_class(passing, m["case_id"]) for m in clip["matches"]}
    assert classes == {"white-van": "truck", "blue-car": "car"}  # each truth box claimed the right vehicle
    assert "PASS" in passing.output and "report:" in passing.output


def _case_class(run, case_id: str) -> str:
    (line,) = [x for x in run.lines() if x["case_id"] == case_id and x["kind"] == "new"]
    return line["body"]["detection"]["class"]


def test_a_gate_the_rule_set_cannot_meet_exits_nonzero(gated):
    assert gated.code == 1, gated.output
    report = gated.report
    assert report["passed"] is False
    assert report["thresholds"] == {"min_recall": 1.0, "max_latency_s": 5.0}
    # recall is met; only the latency limit (a 20 s dwell rule cannot open a case within 5 s) fails
    assert report["failures"] == ["all classes: slowest case took 20.0 s > --max-latency 5"]
    assert "FAIL all classes: slowest case took 20.0 s" in gated.output
    assert "Traceback" not in gated.output
