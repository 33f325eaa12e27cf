"""When a rule applies: weekday + time windows in the camera's own time zone.

A window belongs to the weekday it *starts* on; one whose end is before its start runs across
midnight into the next day (vending allowed fri 18:00 - 02:00 covers Saturday 01:30). Pure
functions of an epoch time, so DST and time zones are handled by zoneinfo, not by arithmetic.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from edge.config.zones import ScheduleConfig, TimeWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def window_covers(window: TimeWindow, weekday: int, minute: int) -> bool:
    """Does the window cover local `minute` (0..1439) of `weekday` (0 = Monday)?"""
    start, end = minutes(window.start), minutes(window.end)
    today = WEEKDAYS[weekday] in window.days
    if start < end:
        return today and start <= minute < end
    yesterday = WEEKDAYS[(weekday - 1) % 7] in window.days
    return (today and minute >= start) or (yesterday and minute < end)


def schedule_active(schedule: ScheduleConfig | None, epoch_s: float, timezone: str) -> bool:
    """True when the rule applies at `epoch_s`: inside a window ('active') or outside all ('inactive')."""
    if schedule is None:
        return True
    local = dt.datetime.fromtimestamp(epoch_s, tz=ZoneInfo(timezone))
    inside = any(window_covers(w, local.weekday(), local.hour * 60 + local.minute) for w in schedule.windows)
    return inside if schedule.mode == "active" else not inside
