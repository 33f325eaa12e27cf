"""Evaluation arithmetic on constructed cases: matching, duplicates, late/early cases, rates, the gate."""

from __future__ import annotations

import pytest

from edge.evaluate import ExpectedCase, ObservedCase, Thresholds, gate, match_cases, observed_cases, score
from edge.types import CaseMessage

VAN = (0.85, 0.08, 0.94, 0.17)
CAR = (0.95, 0.08, 1.0, 0.16)


def expect(id_: str, window=(0.0, 30.0), event="0505", zone="gate", camera="cam", **box) -> ExpectedCase:
    return ExpectedCase(id=id_, camera=camera, event=event, zone=zone, window=window, **box)


def case(id_: str, opened: float, box=None, event="0505", zone="gate", camera="cam") -> ObservedCase:
    return ObservedCase(id_, camera, event, zone, opened, box)


def summary(expected, cases) -> dict[str, object]:
    outcome = match_cases(expected, cases)
    return {
        "matches": sorted((m.expected.id, m.case.case_id) for m in outcome.matches),
        "duplicates": sorted((d.case.case_id, d.of.id) for d in outcome.duplicates),
        "false": sorted((f.case.case_id, f.kind, f.near.id if f.near else None) for f in outcome.false_cases),
        "misses": sorted(e.id for e in outcome.misses),
    }


@pytest.mark.parametrize(
    ("expected", "cases", "want"),
    [
        pytest.param(
            [expect("van", box=VAN), expect("car", box=CAR)],
            [case("c-car", 20, CAR), case("c-van", 20, VAN)],
            {"matches": [("car", "c-car"), ("van", "c-van")], "duplicates": [], "false": [], "misses": []},
            id="each-box-claims-its-vehicle",
        ),
        pytest.param(
            [expect("van", box=VAN)],
            [case("again", 55, VAN), case("first", 20, VAN)],
            {"matches": [("van", "first")], "duplicates": [("again", "van")], "false": [], "misses": []},
            id="re-trigger-after-the-window-is-a-duplicate-not-a-late-case",
        ),
        pytest.param(
            [expect("van", box=VAN)],
            [case("b", 20, VAN), case("a", 20, VAN)],
            {"matches": [("van", "a")], "duplicates": [("b", "van")], "false": [], "misses": []},
            id="same-time-ties-broken-by-case-id",
        ),
        pytest.param(
            [expect("van", box=VAN)],
            [case("slow", 45, VAN)],
            {"matches": [], "duplicates": [], "false": [("slow", "late", "van")], "misses": ["van"]},
            id="late-case-is-a-false-positive-and-a-miss",
        ),
        pytest.param(
            [expect("van", window=(30, 60), box=VAN)],
            [case("hasty", 10, VAN)],
            {"matches": [], "duplicates": [], "false": [("hasty", "early", "van")], "misses": ["van"]},
            id="early-case",
        ),
        pytest.param(
            [expect("van")],
            [case("z", 20, zone="plaza"), case("e", 20, event="0501"), case("k", 20, camera="other")],
            {
                "matches": [],
                "duplicates": [],
                "false": [("e", "unexpected", None), ("k", "unexpected", None), ("z", "unexpected", None)],
                "misses": ["van"],
            },
            id="zone-event-and-camera-must-agree",
        ),
        pytest.param(
            [expect("van", box=VAN, min_iou=0.5)],
            [case("off", 20, (0.80, 0.08, 0.89, 0.17))],  # IoU 0.38 with the van
            {"matches": [], "duplicates": [], "false": [("off", "unexpected", None)], "misses": ["van"]},
            id="box-below-the-iou-is-another-object",
        ),
        pytest.param(
            [expect("car", box=CAR, max_centre_distance=0.05)],
            [case("near", 20, (0.93, 0.09, 0.99, 0.17)), case("far", 21, (0.70, 0.08, 0.80, 0.16))],
            {"matches": [("car", "near")], "duplicates": [], "false": [("far", "unexpected", None)], "misses": []},
            id="centre-distance-tolerance",
        ),
        pytest.param(
            [expect("van", box=VAN)],
            [case("boxless", 20)],
            {"matches": [], "duplicates": [], "false": [("boxless", "unexpected", None)], "misses": ["van"]},
            id="a-case-without-a-box-cannot-match-a-boxed-item",
        ),
        pytest.param(
            [expect("first", window=(0, 40)), expect("second", window=(0, 20))],
            [case("a", 10), case("b", 30)],  # a fits both, b only the first: both must be matched
            {"matches": [("first", "b"), ("second", "a")], "duplicates": [], "false": [], "misses": []},
            id="maximal-matching-not-greedy",
        ),
        pytest.param(
            [expect("early", window=(0, 30)), expect("later", window=(50, 80))],
            [case("a", 20), case("b", 90)],  # no boxes: b is late for the item whose window is nearest
            {"matches": [("early", "a")], "duplicates": [], "false": [("b", "late", "later")], "misses": ["later"]},
            id="late-case-blamed-on-the-nearest-window",
        ),
        pytest.param([], [], {"matches": [], "duplicates": [], "false": [], "misses": []}, id="nothing-at-all"),
    ],
)
def test_matching(expected, cases, want):
    assert summary(expected, cases) == want


def test_window_edges_are_inside():
    items = [expect("van", window=(0, 30))]
    assert summary(items, [case("at-end", 30.0)])["matches"] == [("van", "at-end")]
    assert summary(items, [case("past", 30.01)])["false"] == [("past", "late", "van")]


def test_rates_count_duplicates_and_late_cases_against_precision():
    expected = [expect("van", box=VAN), expect("car", box=CAR), expect("vendor", event="0501", zone="plaza")]
    cases = [
        case("van-1", 20, VAN),
        case("van-2", 50, VAN),  # duplicate
        case("car-late", 45, CAR),  # late: false positive, and the car is missed
        case("ghost", 20, event="0501", zone="road"),  # unexpected, in another zone
    ]
    scores = score([match_cases(expected, cases)])
    parked, vendor, total = scores["0505"], scores["0501"], scores["all"]
    assert list(scores) == ["0501", "0505", "all"]
    assert (parked.expected, parked.cases, parked.true_positives) == (2, 3, 1)
    assert (parked.false_positives, parked.late, parked.early, parked.duplicates, parked.misses) == (1, 1, 0, 1, 1)
    assert parked.precision == pytest.approx(1 / 3)
    assert parked.recall == pytest.approx(1 / 2)
    assert parked.f1 == pytest.approx(2 * 1 / (3 + 2))
    assert parked.latencies == [20.0] and parked.mean_latency_s == parked.max_latency_s == 20.0
    assert (vendor.expected, vendor.cases, vendor.misses, vendor.false_positives) == (1, 1, 1, 1)
    assert vendor.precision == 0.0 and vendor.recall == 0.0 and vendor.f1 == 0.0
    assert (total.expected, total.cases, total.true_positives, total.duplicates) == (3, 4, 1, 1)
    assert total.precision == pytest.approx(1 / 4) and total.recall == pytest.approx(1 / 3)


def test_scores_add_up_over_clips_and_undefined_rates_are_none():
    clip_a = match_cases([expect("van", window=(5, 30), box=VAN)], [case("a", 25, VAN)])
    clip_b = match_cases([], [])  # a clip on which nothing should happen, and nothing did
    clip_c = match_cases([expect("car", box=CAR)], [case("c", 12, CAR)])
    scores = score([clip_a, clip_b, clip_c])
    assert scores["all"].latencies == [20.0, 12.0]
    assert scores["all"].mean_latency_s == 16.0 and scores["all"].max_latency_s == 20.0
    empty = score([clip_b])["all"]
    assert (empty.precision, empty.recall, empty.f1, empty.mean_latency_s) == (None, None, None, None)
    nothing_opened = score([match_cases([expect("van")], [])])["all"]
    assert (nothing_opened.precision, nothing_opened.recall, nothing_opened.f1) == (None, 0.0, 0.0)


def test_gate_checks_each_class_so_a_good_class_cannot_hide_a_bad_one():
    expected = [expect(f"v{i}", box=VAN, camera=f"c{i}") for i in range(9)]
    expected.append(expect("vendor", event="0501", zone="plaza"))
    cases = [case(f"x{i}", 20, VAN, camera=f"c{i}") for i in range(9)]
    scores = score([match_cases(expected, cases)])
    assert scores["all"].recall == pytest.approx(0.9)
    failures = gate(scores, Thresholds(min_recall=0.8))
    assert failures == ["event 0501: recall 0.000 < --min-recall 0.8"]


@pytest.mark.parametrize(
    ("thresholds", "failures"),
    [
        (Thresholds(), []),
        (Thresholds(min_precision=0.5, min_recall=1.0, min_f1=0.6, max_duplicates=1, max_latency_s=20), []),
        (
            Thresholds(min_precision=0.6),
            ["event 0505: precision 0.500 < --min-precision 0.6", "all classes: precision 0.500 < --min-precision 0.6"],
        ),
        (Thresholds(max_duplicates=0), ["all classes: 1 duplicates > --max-duplicates 0"]),
        (Thresholds(max_latency_s=19.5), ["all classes: slowest case took 20.0 s > --max-latency 19.5"]),
        (Thresholds(min_f1=0.7), ["event 0505: f1 0.667 < --min-f1 0.7", "all classes: f1 0.667 < --min-f1 0.7"]),
    ],
)
def test_gate(thresholds, failures):
    scores = score([match_cases([expect("van", box=VAN)], [case("a", 20, VAN), case("b", 40, VAN)])])
    assert gate(scores, thresholds) == failures


def test_undefined_rates_never_fail_the_gate():
    scores = score([match_cases([], [])])
    assert gate(scores, Thresholds(min_precision=1, min_recall=1, min_f1=1, max_latency_s=0)) == []


def test_observed_cases_come_from_new_messages_only():
    body = {
        "camera": {"id": "cam"},
        "event": {"code": "0505"},
        "zone": {"id": "gate"},
        "times": {"confirmed_media_s": 20.0},
        "detection": {"box_norm": list(VAN)},
    }
    messages = [
        CaseMessage("k1", 1, "new", body),
        CaseMessage("k1", 2, "update", body),
        CaseMessage("k1", 3, "cleared", body),
        CaseMessage("k2", 1, "new", body | {"detection": {}}),
    ]
    assert observed_cases(messages) == [case("k1", 20.0, VAN), case("k2", 20.0)]
