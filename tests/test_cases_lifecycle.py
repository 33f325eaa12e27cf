"""Lifecycle: pure decision tables, then scripted sequences for gaps, id switches, re-report,
cooldown, clearing, restarts on the same SQLite file, reloads and the snapshot."""

from __future__ import annotations

import numpy as np
import pytest
from test_cases_support import CAR, EPOCH, VAN, Run, detections, frame, make_config, rule

from edge.cases.lifecycle import Phase, Timing, advance, candidate_decisions, case_decision, gone

T = Timing(min_duration_s=20, gap_allowance_s=5, clear_after_s=10, re_report_s=30, cooldown_s=0)


@pytest.mark.parametrize(
    ("now", "first", "last", "attached", "since", "drop", "confirm"),
    [
        (10.0, 0.0, 10.0, False, -np.inf, False, False),  # still timing
        (20.0, 0.0, 20.0, False, -np.inf, False, True),  # seen now, 20 s: confirm
        (20.0, 0.0, 19.5, False, -np.inf, False, False),  # long enough but not seen this frame
        (16.0, 0.0, 10.0, False, -np.inf, True, False),  # absent 6 s > gap 5 s: dwell restarts
        (14.0, 0.0, 10.0, False, -np.inf, False, False),  # absent 4 s: bridged
        (16.0, 0.0, 10.0, True, -np.inf, False, False),  # attached places are never dropped here
        (116.0, 0.0, 10.0, False, 113.0, False, False),  # down until 113: only 3 s observed absence
    ],
)
def test_candidate_decisions(now, first, last, attached, since, drop, confirm):
    d, c = candidate_decisions(now, np.array([first]), np.array([last]), np.array([attached]), T, since)
    assert (bool(d[0]), bool(c[0])) == (drop, confirm)


@pytest.mark.parametrize(
    ("phase", "now", "last_seen", "last_report", "since", "expected"),
    [
        (Phase.CONFIRMED, 30.0, 30.0, 20.0, -np.inf, None),
        (Phase.CONFIRMED, 50.0, 50.0, 20.0, -np.inf, Phase.UPDATED),  # re-report due, seen now
        (Phase.CONFIRMED, 50.0, 49.5, 20.0, -np.inf, None),  # due but not seen this frame: wait
        (Phase.UPDATED, 40.5, 30.0, 20.0, -np.inf, Phase.CLEARED),  # gone 10.5 s > 10 s
        (Phase.UPDATED, 40.0, 30.0, 20.0, -np.inf, None),  # gone exactly 10 s: not yet
        (Phase.CONFIRMED, 500.0, 30.0, 20.0, 495.0, None),  # a restart: absence counts from 495
        (Phase.CLEARED, 500.0, 30.0, 20.0, -np.inf, None),
        (Phase.CANDIDATE, 500.0, 30.0, 20.0, -np.inf, None),
    ],
)
def test_case_decision(phase, now, last_seen, last_report, since, expected):
    assert case_decision(phase, now, last_seen, last_report, T, since) == expected


def test_never_re_report_when_interval_is_zero_and_clear_after_zero_means_first_absence():
    timing = Timing(20, 5, 0, 0, 0)
    assert case_decision(Phase.CONFIRMED, 1e6, 1e6, 0.0, timing) is None
    assert bool(gone(10.5, 10.0, timing)) and not bool(gone(10.0, 10.0, timing))


@pytest.mark.parametrize(
    ("start", "target", "ok"),
    [
        (Phase.CANDIDATE, Phase.CONFIRMED, True),
        (Phase.CONFIRMED, Phase.UPDATED, True),
        (Phase.UPDATED, Phase.UPDATED, True),
        (Phase.UPDATED, Phase.CLEARED, True),
        (Phase.CANDIDATE, Phase.CLEARED, False),
        (Phase.CLEARED, Phase.CONFIRMED, False),
        (Phase.CLEARED, Phase.UPDATED, True),  # a plate rule's case reopened by its plate
        (Phase.CONFIRMED, Phase.CANDIDATE, False),
    ],
)
def test_state_machine_transitions(start, target, ok):
    if ok:
        assert advance(start, target) is target
    else:
        with pytest.raises(ValueError, match="cannot go"):
            advance(start, target)


def test_occlusion_shorter_than_gap_keeps_dwell_longer_restarts_it(tmp_path):
    bridged = Run(make_config([rule()]), tmp_path / "a.db")
    bridged.play(0, 8, [CAR])
    bridged.play(8, 12, [])  # a bus passes in front for 4 s (< gap 5 s)
    bridged.play(12, 21, [CAR])
    assert [m.kind for m in bridged.messages] == ["new"]
    assert bridged.messages[0].body["times"]["first_seen_media_s"] == 0.0
    broken = Run(make_config([rule()]), tmp_path / "b.db")
    broken.play(0, 8, [CAR])
    broken.play(8, 15, [])  # 7 s gone: it left, this is a new arrival
    broken.play(15, 34.9, [CAR])
    assert broken.messages == []
    broken.play(34.9, 36, [CAR])
    assert broken.messages[0].body["times"]["first_seen_media_s"] == 15.0


def test_tracker_id_switches_and_jitter_do_not_split_the_violation(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    rng = np.random.default_rng(7)
    for k, t in enumerate(np.arange(0, 60, 0.5)):
        box = np.array(CAR[:4]) + rng.normal(0, 3, 4)
        label = "truck" if k % 3 else "car"  # the class flickers too
        dets = detections([(*box, label, 0.5)]).with_tracker_id(np.array([1000 + k]))  # a new id every frame
        run.messages += run.engine.process(frame(float(t)), {"coco": dets})
    assert [m.kind for m in run.messages] == ["new"]


def test_re_report_sends_updates_of_the_same_case(tmp_path):
    run = Run(make_config([rule(re_report_s=15, max_pictures=3)]), tmp_path / "state.db")
    run.play(0, 60, [CAR, VAN])
    by_case: dict[str, list[str]] = {}
    for kind, case_id in run.kinds():
        by_case.setdefault(case_id, []).append(kind)
    assert sorted(by_case.values()) == [["new", "update", "update"]] * 2  # confirmed at 20, updates at 35, 50
    update = next(m for m in run.messages if m.kind == "update")
    assert update.seq == 2 and update.body["times"]["updated"] is not None
    assert {e["kind"] for e in update.body["evidence"]} == {"full", "crop"}


def test_zone_case_update_shows_newest_objects_up_to_the_limit(tmp_path):
    run = Run(make_config([rule(case_per="zone", re_report_s=25, max_pictures=2)]), tmp_path / "state.db")
    run.play(0, 10, [CAR])
    run.play(10, 46, [CAR, VAN])
    update = [m for m in run.messages if m.kind == "update"]
    assert len(update) == 1
    body = update[0].body
    assert body["repeat_count"] == 2 and body["detection"]["objects"] == 2
    assert [e["kind"] for e in body["evidence"]] == ["full", "crop"]  # limit 2: the frame + newest crop
    assert body["detection"]["class"] == "truck"  # the van arrived last


def test_clearing_sends_after_picture_then_a_return_is_a_new_case(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 30, [CAR])
    run.play(30, 45, [])
    cleared = run.messages[-1]
    assert cleared.kind == "cleared" and cleared.seq == 2
    assert [e["kind"] for e in cleared.body["evidence"]] == ["after"]
    assert cleared.body["times"]["cleared"] is not None and cleared.body["times"]["duration_s"] == 29.5
    run.play(45, 70, [CAR])
    assert [m.kind for m in run.messages] == ["new", "cleared", "new"]
    assert run.messages[2].case_id != run.messages[0].case_id


def test_a_plate_rule_case_reopens_when_its_plate_is_back_within_re_report_s_only(tmp_path):
    # the plate stage's word (`rejoin`) stands in for a reading: edge/runtime/plates.py reads the candidates
    run = Run(make_config([rule(plates=True, re_report_s=60)]), tmp_path / "state.db")
    run.play(0, 30, [CAR])
    run.play(30, 45, [])  # cleared at 40.5
    run.step(45, [CAR])
    [back] = run.engine.comebacks()
    assert back.case_id == run.messages[0].case_id and len(back.candidates) == 1
    run.engine.rejoin(back.case_id, next(iter(back.candidates)))
    run.play(45.5, 70, [CAR])
    assert [(m.kind, m.seq, m.body["reason"]) for m in run.messages] == [
        ("new", 1, None),
        ("cleared", 2, None),
        ("update", 3, "plate_returned"),
    ]
    assert {m.case_id for m in run.messages} == {back.case_id}
    assert run.messages[-1].body["repeat_count"] == 2 and run.messages[-1].body["times"]["cleared"] is None
    run.play(70, 85, [])  # cleared again at 80.5; back after re_report_s: nothing left to join
    run.play(141, 170, [CAR])
    assert run.engine.comebacks() == []
    assert [m.kind for m in run.messages[3:]] == ["cleared", "new"] and run.messages[-1].case_id != back.case_id
    run.close()


def test_a_cleared_plate_case_and_its_plate_survive_a_restart_and_reopen_after_it(tmp_path):
    # the plate stage's word (`identify`, `rejoin`) stands in for its readings, as above
    db, config = tmp_path / "state.db", make_config([rule(plates=True, re_report_s=60)])
    first = Run(config, db)
    first.play(0, 30, [CAR])
    case_id = first.messages[0].case_id
    first.engine.identify(case_id, "沪A6K325")
    first.play(30, 45, [])  # cleared at 40.5: its vehicle left
    first.close()
    second = Run(config, db)  # a restart while the case waits for its vehicle: nothing of it in memory
    second.step(0, [CAR], epoch=EPOCH + 46)
    [back] = second.engine.comebacks()
    assert (back.case_id, back.plate, len(back.candidates)) == (case_id, "沪A6K325", 1)
    second.engine.rejoin(case_id, next(iter(back.candidates)))
    second.step(0.5, [CAR], epoch=EPOCH + 46)  # the mark is stored with the next frame
    second.close()
    third = Run(config, db)  # and another one between the plate's reading and the confirmation
    third.play(1, 25, [CAR], epoch=EPOCH + 46)
    assert [(m.kind, m.case_id, m.seq, m.body["reason"]) for m in third.messages] == [
        ("update", case_id, 3, "plate_returned")
    ]
    assert third.messages[0].body["repeat_count"] == 2
    third.close()


def test_cooldown_suppresses_a_new_case_at_the_same_place_only(tmp_path):
    run = Run(make_config([rule(cooldown_s=60)]), tmp_path / "state.db")
    run.play(0, 25, [CAR])
    run.play(25, 40, [])  # cleared at ~35.5
    run.play(40, 90, [CAR, VAN])  # the car returns within the cooldown; the van is elsewhere
    kinds = [(m.kind, m.body["detection"]["class"]) for m in run.messages]
    assert kinds == [("new", "car"), ("cleared", "car"), ("new", "truck")]
    run.play(90, 100, [CAR, VAN])  # cooldown over (35.5 + 60): the car, still there, opens a case
    assert [m.kind for m in run.messages][-1] == "new" and run.messages[-1].body["detection"]["class"] == "car"


def test_restart_in_the_middle_of_a_violation_resumes_the_same_case(tmp_path):
    db = tmp_path / "state.db"
    first = Run(make_config([rule(re_report_s=30)]), db)
    first.play(0, 12, [CAR])  # candidate, not yet confirmed
    first.close()
    second = Run(make_config([rule(re_report_s=30)]), db)  # restart: media time starts at 0 again
    second.play(0, 10, [CAR], epoch=EPOCH + 14)  # 2 s of downtime
    assert [m.kind for m in second.messages] == ["new"]
    new = second.messages[0]
    assert new.body["times"]["first_seen"] == "2026-01-05T00:00:00.000Z"  # the dwell began before the restart
    assert {e["kind"] for e in new.body["evidence"]} == {"full", "crop", "first_seen"}  # kept in SQLite
    second.close()
    third = Run(make_config([rule(re_report_s=30)]), db)  # another restart, after the case is open
    third.play(0, 40, [CAR], epoch=EPOCH + 25)
    assert [(m.kind, m.case_id, m.seq) for m in third.messages] == [("update", new.case_id, 2)]


def test_downtime_longer_than_clear_after_does_not_clear_a_case_that_is_still_there(tmp_path):
    db = tmp_path / "state.db"
    first = Run(make_config([rule()]), db)
    first.play(0, 25, [CAR])
    first.close()
    second = Run(make_config([rule()]), db)
    second.play(0, 30, [CAR], epoch=EPOCH + 3600)  # down for an hour, the car is still there
    assert second.messages == []
    second.play(30, 45, [], epoch=EPOCH + 3600)
    assert [m.kind for m in second.messages] == ["cleared"]


def test_camera_reconnect_restarts_media_time_without_duplicates(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 25, [CAR])
    run.play(0, 25, [CAR], epoch=EPOCH + 27)  # same engine, the stream restarted at media time 0
    assert [m.kind for m in run.messages] == ["new"]


def test_reload_keeps_unchanged_rules_restarts_changed_and_clears_removed(tmp_path):
    parked = rule(id="parked")
    vendor = rule(id="vendor", event_code="0501", classes=["person"], min_duration_s=5)
    run = Run(make_config([parked, vendor]), tmp_path / "state.db")
    person = (170, 60, 190, 110, "person", 0.7)
    run.play(0, 15, [CAR, person])  # vendor case open; parked candidate 15 s old
    assert [m.body["rule"]["id"] for m in run.messages] == ["vendor"]
    edited = make_config([parked | {"min_score": 0.35}]).cameras[0]  # parked changed, vendor removed
    run.engine.reload(edited, zone_version=2)
    run.play(15, 36, [CAR, person])
    kinds = [(m.kind, m.body["rule"]["id"]) for m in run.messages]
    assert kinds == [("new", "vendor"), ("cleared", "vendor"), ("new", "parked")]
    assert run.messages[1].body["reason"] == "rule_removed"
    assert run.messages[2].body["times"]["first_seen_media_s"] == 15.0  # its timer restarted
    assert run.messages[2].body["zone"]["version"] == 2
    same = make_config([parked | {"min_score": 0.35}]).cameras[0]
    run.engine.reload(same, zone_version=3)  # unchanged: the open case continues
    run.play(36, 40, [CAR])
    assert len(run.messages) == 3


def test_snapshot_shows_timers_and_open_cases(tmp_path):
    run = Run(make_config([rule(), rule(id="r2", case_per="zone")]), tmp_path / "state.db")
    run.play(0, 10, [CAR])
    snap = run.engine.snapshot()
    places = snap.zones[0].rules[0].places
    assert len(places) == 1 and places[0].phase == "candidate" and places[0].dwell_s == 9.5
    assert places[0].label == "car"
    run.play(10, 21, [CAR])
    snap = run.engine.snapshot()
    first = snap.zones[0].rules[0]
    assert first.places[0].phase == "attached" and first.open_cases[0].phase == "confirmed"
    first.open_cases[0].seq = 99  # a copy: changing it does not touch the engine
    assert run.engine.snapshot().zones[0].rules[0].open_cases[0].seq == 1


def test_rule_removed_or_changed_while_the_worker_was_down(tmp_path):
    db = tmp_path / "state.db"
    first = Run(make_config([rule(id="old"), rule(id="kept")]), db)
    first.play(0, 25, [CAR])  # both rules have an open case
    first.close()
    second = Run(make_config([rule(id="kept", min_score=0.4), rule(id="new")]), db)
    second.step(0.0, [CAR], epoch=EPOCH + 30)
    assert [(m.kind, m.body["rule"]["id"], m.body["reason"]) for m in second.messages] == [
        ("cleared", "old", "rule_removed")
    ]
    assert {k for k, _ in second.store.rule_states("cam1")} == {"z1"}
    assert {r for _, r in second.store.rule_states("cam1")} == {"kept", "new"}
    second.play(0.5, 30, [CAR], epoch=EPOCH + 30)
    assert [m.body["rule"]["id"] for m in second.messages[1:]] == ["new"]  # "kept" resumed its case


def test_clearing_one_case_does_not_disturb_other_places_of_the_rule(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    other = (170, 60, 195, 100, "car", 0.6)
    run.play(0, 25, [CAR])  # case A, confirmed at 20
    run.play(25, 28, [])
    run.play(28, 30, [other])  # candidate B, gone again: stale at 35.0 ...
    run.play(30, 35, [])
    run.play(35, 56, [VAN])  # ... the frame A clears and C first appears
    assert [m.kind for m in run.messages] == ["new", "cleared", "new"]
    assert run.messages[2].body["times"]["first_seen_media_s"] == 35.0


def test_timing_candidates_is_true_only_while_a_place_waits_for_its_case(tmp_path):
    """The worker gives inference priority to cameras whose engine says so."""
    run = Run(make_config([rule()]), tmp_path / "state.db")
    assert not run.engine.timing_candidates()
    run.play(0, 10, [CAR])
    assert run.engine.timing_candidates()  # the car is being timed, no case yet
    run.play(10, 25, [CAR])
    assert [kind for kind, _ in run.kinds()] == ["new"]
    assert not run.engine.timing_candidates()  # its place now belongs to the open case
    run.close()
