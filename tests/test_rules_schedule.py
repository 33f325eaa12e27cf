"""Schedules: weekday + time windows in the camera's time zone, across midnight, in the engine."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from test_cases_support import CAR, Run, make_config, rule

from edge.cases.schedule import schedule_active, window_covers
from edge.config import ConfigError, ScheduleConfig, TimeWindow, parse_config

MON, TUE, SAT, SUN = 0, 1, 5, 6


def at(minute_of_day: str) -> int:
    h, m = minute_of_day.split(":")
    return int(h) * 60 + int(m)


@pytest.mark.parametrize(
    ("window", "weekday", "time", "covered"),
    [
        ({"start": "07:00", "end": "19:00", "days": ["mon"]}, MON, "07:00", True),
        ({"start": "07:00", "end": "19:00", "days": ["mon"]}, MON, "18:59", True),
        ({"start": "07:00", "end": "19:00", "days": ["mon"]}, MON, "19:00", False),  # end is exclusive
        ({"start": "07:00", "end": "19:00", "days": ["mon"]}, TUE, "12:00", False),
        ({"start": "18:00", "end": "02:00", "days": ["fri"]}, SAT, "01:30", True),  # Friday night, past midnight
        ({"start": "18:00", "end": "02:00", "days": ["fri"]}, SAT, "18:30", False),  # Saturday is not listed
        ({"start": "18:00", "end": "02:00", "days": ["sun"]}, MON, "00:10", True),  # week wraps sun -> mon
        ({"start": "18:00", "end": "02:00", "days": ["sun"]}, SUN, "01:00", False),  # that is Saturday's night
        ({"start": "00:00", "end": "24:00", "days": ["sat", "sun"]}, SUN, "23:59", True),
    ],
)
def test_window_covers(window, weekday, time, covered):
    assert window_covers(TimeWindow(**window), weekday, at(time)) is covered


def epoch(local: str, tz: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(
    ("mode", "moment", "tz", "applies"),
    [
        ("inactive", "2026-01-09T20:00", "Asia/Shanghai", False),  # Friday 20:00: vending allowed
        ("inactive", "2026-01-09T17:59", "Asia/Shanghai", True),
        ("inactive", "2026-01-10T00:30", "Asia/Shanghai", False),  # Saturday 00:30: still Friday's window
        ("active", "2026-01-09T20:00", "Asia/Shanghai", True),
        ("active", "2026-01-09T20:00", "Europe/Berlin", True),  # local time of the camera, whatever zone
    ],
)
def test_schedule_in_the_cameras_time_zone(mode, moment, tz, applies):
    schedule = ScheduleConfig(mode=mode, windows=[TimeWindow(days=["fri"], start="18:00", end="01:00")])
    assert schedule_active(schedule, epoch(moment, tz), tz) is applies


def test_daylight_saving_change_uses_local_wall_time():
    schedule = ScheduleConfig(windows=[TimeWindow(days=["sun"], start="03:00", end="04:00")])
    utc = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC).timestamp()  # 03:30 CEST, clocks just went forward
    assert schedule_active(schedule, utc, "Europe/Berlin")
    assert not schedule_active(schedule, utc - 3600, "Europe/Berlin")  # 01:30 CET


def test_same_instant_differs_by_camera_time_zone():
    schedule = ScheduleConfig(windows=[TimeWindow(days=["mon"], start="07:00", end="09:00")])
    instant = epoch("2026-01-05T08:00", "Asia/Shanghai")  # 00:00 UTC
    assert schedule_active(schedule, instant, "Asia/Shanghai")
    assert not schedule_active(schedule, instant, "UTC")
    assert schedule_active(None, instant, "UTC")


def schedule_rule(mode: str, start: str, end: str, days: list[str]) -> dict:
    return rule(schedule={"mode": mode, "windows": [{"days": days, "start": start, "end": end}]})


@pytest.mark.parametrize(
    ("schedule", "cases"),
    [
        (schedule_rule("active", "07:00", "08:00", ["mon"]), 0),  # no parking until 08:00: over
        (schedule_rule("active", "08:00", "08:10", ["mon"]), 1),
        (schedule_rule("inactive", "07:30", "09:00", ["mon"]), 0),  # parking allowed now
        (schedule_rule("active", "23:00", "08:01", ["sun"]), 1),  # Sunday night into Monday morning
        (schedule_rule("active", "08:00", "08:10", ["tue"]), 0),
    ],
)
def test_engine_applies_rules_only_when_scheduled(tmp_path, schedule, cases):
    # the clip starts Monday 2026-01-05 08:00 in Asia/Shanghai
    run = Run(make_config([schedule], timezone="Asia/Shanghai"), tmp_path / "state.db")
    run.play(0, 30, [CAR])
    assert len(run.messages) == cases


def test_window_closing_restarts_the_timer_across_midnight(tmp_path):
    start = epoch("2026-01-04T23:59:45", "Asia/Shanghai")  # Sunday; the window ends at midnight
    run = Run(make_config([schedule_rule("active", "20:00", "24:00", ["sun"])]), tmp_path / "state.db")
    run.play(0, 60, [CAR], epoch=start)
    assert run.messages == []


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ({"start": "24:00", "end": "06:00"}, "cannot start at 24:00"),
        ({"start": "7:00", "end": "09:00"}, "HH:MM"),
        ({"start": "08:00", "end": "08:00"}, "is empty"),
        ({"days": []}, "at least one weekday"),
        ({"days": ["mon", "mon"]}, "repeated"),
        ({"days": ["monday"]}, "mon"),
    ],
)
def test_bad_windows_name_the_problem(window, problem):
    data = make_config([rule()]).model_dump(mode="json")
    data["cameras"][0]["zones"][0]["rules"][0]["schedule"] = {"windows": [window]}
    with pytest.raises(ConfigError, match=r"schedule\.windows") as err:
        parse_config(data, make_config([rule()]).models[0].path.parent)
    assert problem in str(err.value)
