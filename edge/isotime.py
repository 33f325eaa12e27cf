"""Times as the box writes them: UTC, ISO-8601 with a `Z`, one format for messages, logs and files."""

from __future__ import annotations

import datetime as dt
import time


def iso_utc(epoch_s: float, *, millis: bool = True) -> str:
    """ISO-8601 UTC, e.g. 2026-01-05T01:00:20.000Z (or ...T01:00:20Z without milliseconds)."""
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds" if millis else "seconds").replace("+00:00", "Z")


def now_iso(*, millis: bool = True) -> str:
    """The current wall time as `iso_utc` writes it."""
    return iso_utc(time.time(), millis=millis)


def compact_utc(epoch_s: float) -> str:
    """UTC to the second without separators (20260105T010020Z): for ids and file names."""
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
