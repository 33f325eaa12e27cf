"""Place matching: which place a rule is timing each of this frame's observation rows belongs to.

A place is where a qualifying object (or group, or the whole zone for zone-level rules) was first
seen; later sightings are matched to it by position and overlap (`match_places`), never by
tracker id alone, so an id switch or a missed detection never splits a violation. Pure functions of
arrays: the engine applies the result to the rule state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.cases.observe import Observation, match_places
from edge.cases.sightings import settle_after_s
from edge.cases.state import Places
from edge.config import RuleConfig
from edge.zones.geometry import unmatched

REF_MEMORY = 10  # a place's reference box is the mean of its first sightings, then frozen: slow drift breaks it


@dataclass(frozen=True, slots=True)
class Sighted:
    """The rule's places after this frame's sightings, and what the engine must follow up."""

    places: Places
    returning_cases: list[str]  # open cases whose object is back after an absence (one more capture)
    settled: np.ndarray  # place rows that have just stayed long enough for a first-seen picture
    fresh: np.ndarray  # place rows started by this frame


def sight(
    places: Places, obs: Observation, rule: RuleConfig, now: float, media_time: float, key_prefix: str
) -> Sighted:
    """Refresh the places this frame's rows match and start places for the rest."""
    if obs.zone_level:
        rows = np.arange(min(len(places), 1))
        cols = np.zeros(len(rows), np.int64)
    else:
        rows, cols = match_places(places.ref, obs.xyxy, rule.stationary_tolerance)
    returning = places.attached[rows] & (now - places.last_seen[rows] > rule.gap_allowance_s)
    returning_cases = [str(c) for c in places.case[rows][returning]]
    weight = np.where(places.hits[rows] < REF_MEMORY, 1.0 / (places.hits[rows] + 1), 0.0)[:, None]
    places.ref[rows] += (obs.xyxy[cols] - places.ref[rows]) * weight
    places.box[rows] = obs.xyxy[cols]
    places.last_seen[rows] = now
    places.last_media[rows] = media_time
    places.score[rows] = obs.score[cols]
    places.label[rows] = np.array(obs.labels, dtype=object)[cols] if len(cols) else places.label[rows]
    places.hits[rows] += 1
    places.track[rows] = obs.track[cols]
    stayed = places.last_seen[rows] - places.first_seen[rows] >= settle_after_s(rule.min_duration_s)
    settled = rows[stayed & ~places.pictured[rows]]
    places.pictured[settled] = True
    fresh_cols = np.flatnonzero(unmatched(len(obs), cols))
    if not len(fresh_cols):
        return Sighted(places, returning_cases, settled, np.zeros(0, np.int64))
    stamp = round(now * 1000)
    n = len(fresh_cols)
    boxes = obs.xyxy[fresh_cols].astype(np.float64)
    new = Places(
        key=np.array([f"{key_prefix}/{stamp}/{j}" for j in range(n)], dtype=object),
        ref=boxes.copy(),
        box=boxes,
        first_seen=now - obs.age[fresh_cols],  # scene objects stood there before they were reported
        last_seen=np.full(n, now),  # seen now, whatever its age
        first_media=media_time - obs.age[fresh_cols],
        last_media=np.full(n, media_time),
        score=obs.score[fresh_cols].astype(np.float64),
        label=np.array([obs.labels[j] for j in fresh_cols], dtype=object),
        hits=np.ones(n, np.int64),
        track=obs.track[fresh_cols].astype(np.int64),
        case=np.full(n, "", dtype=object),
        pictured=np.zeros(n, bool),
    )
    return Sighted(places.append(new), returning_cases, settled, np.arange(len(places), len(places) + n))
