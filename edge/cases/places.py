"""Place matching: which place a rule is timing each of this frame's observation rows belongs to.

A place is where a qualifying object (or group, or the whole zone for zone-level rules) was first
seen. A later sighting continues that place's dwell only when there is evidence that it is *the same
object, still there*, not merely something at the same spot:
- position: its ground point stayed within `stationary_tolerance` place sizes, or its box overlaps;
- continuity: its box overlaps the place's last box by `min_continuity` (IoU);
- appearance: the colour layout of its crop is `min_similarity` like the place's first sightings.
Tracker ids play no part (except the scene model's object ids of static_object rules: its id
proves the same object while its box grows or shrinks): an id switch, a car/truck flicker or a
missed detection never splits a violation, and a stream of different passers-by crossing one spot
never builds one (each passer-by is a place of its own that lives a frame or two). A sighting at a
place with an open case that fails the checks (a passer-by in front of a parked car) starts nothing:
it neither refreshes the case nor becomes a duplicate candidate. Zone-level rules (count, occupancy)
continue while `min_continuity` of the counted objects are still where they were in the previous
frame (a gathering, not a flow).
How often the place's own object was seen (`Places.presence`) is what `min_presence` gates.
Pure functions of arrays: the engine applies the result to the rule state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.cases.appearance import SIZE, FrameLooks, similarity
from edge.cases.observe import STATIONARY_IOU, Observation, position_scores
from edge.cases.sightings import settle_after_s
from edge.cases.state import Places
from edge.config import RuleConfig, RuleKind
from edge.zones.geometry import box_iou, greedy_match, unmatched

REF_MEMORY = 10  # a place's reference box and appearance are the mean of its first sightings, then frozen
LOOK_DRIFT = 0.05  # after that, its appearance follows slow changes of light at this rate per sighting


@dataclass(frozen=True, slots=True)
class Sighted:
    """The rule's places after this frame's sightings, and what the engine must follow up."""

    places: Places
    returning_cases: list[str]  # open cases whose object is back after an absence (one more capture)
    settled: np.ndarray  # place rows that have just stayed long enough for a first-seen picture
    fresh: np.ndarray  # place rows started by this frame


def looks_of(looks: FrameLooks, obs: Observation, kind: str) -> np.ndarray:
    """(rows, appearance.SIZE) signatures of the rows' objects; unknown (NaN) where a look proves nothing:
    the whole zone's row, or a scene object (its object id already proves that it stayed)."""
    if obs.zone_level or kind == RuleKind.STATIC_OBJECT:
        return np.full((len(obs), SIZE), np.nan, np.float32)
    return looks.of(obs.subjects)


def same_object(
    places: Places, obs: Observation, looks: np.ndarray, rule: RuleConfig, where: np.ndarray | None = None
) -> np.ndarray:
    """(places, rows) bool: the sighting may continue the place (continuity and appearance).

    where: (places, rows) bool, the pairs the caller will use (at the place's spot); the others are
    False. Appearance is compared only for pairs that pass the cheaper tests: on a busy zone most
    places and sightings are far apart."""
    same = box_iou(places.box.astype(np.float32), obs.xyxy.astype(np.float32)) >= rule.min_continuity
    if where is not None:
        same &= where
    pairs = np.nonzero(same)
    same[pairs] = similarity(places.look[pairs[0]], looks[pairs[1]]) >= rule.min_similarity
    return same


def continuing(
    places: Places, obs: Observation, looks: np.ndarray, rule: RuleConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols) of the sightings that continue a place (same spot, same object), and the position scores.

    The one test of "still the same object at its place": the dwell and a verification request both use it.
    """
    position = position_scores(places.ref, obs.xyxy, rule.stationary_tolerance)
    scores = np.where(same_object(places, obs, looks, rule, where=position > 0), position, 0.0)
    if rule.kind == RuleKind.STATIC_OBJECT:
        # The scene model's object id proves it is the same object, whose box grows or shrinks
        # (a pile getting bigger, a better-lit outline): the place and its case go on with it.
        same_id = (places.track[:, None] == obs.track[None, :]) & (obs.track[None, :] >= 0)
        scores = np.where(same_id, 1.0 + position, scores)
    rows, cols = greedy_match(scores, 1e-9)
    return rows, cols, position


def still_there(previous: np.ndarray, current: np.ndarray, share: float) -> bool:
    """Zone-level rules: at least `share` of the counted objects overlap one of the previous frame's."""
    if not len(current):
        return False
    if not len(previous):
        return share <= 0.0
    stayed = (box_iou(current.astype(np.float32), previous.astype(np.float32)) >= STATIONARY_IOU).any(axis=1)
    return bool(stayed.mean() >= share)


def sight(
    places: Places,
    obs: Observation,
    looks: np.ndarray,
    rule: RuleConfig,
    now: float,
    media_time: float,
    key_prefix: str,
    previous_parts: np.ndarray,
    observed_since: float = -np.inf,
) -> Sighted:
    """Refresh the places this frame's rows continue and start places for the rest.

    looks: (rows, appearance.SIZE) signatures of the rows (NaN where not measured: scene objects,
    whose object id already proves they stayed). previous_parts: the counted objects of the rule's
    previous analysed frame (zone-level rules). observed_since: time before it (a patrol camera's gap
    between visits) is not an absence, so an open case's object seen again there is not a new capture.
    """
    if obs.zone_level:
        rows = np.arange(min(len(places), 1))
        if len(rows) and not still_there(previous_parts, obs.parts.xyxy, rule.min_continuity):
            rows = rows[:0]
        cols = np.zeros(len(rows), np.int64)
        fresh_cols = np.arange(len(obs)) if not len(places) else np.zeros(0, np.int64)
    else:
        rows, cols, position = continuing(places, obs, looks, rule)
        at_a_case = (position[places.attached] > 0).any(axis=0)  # in front of an open case's object
        fresh_cols = np.flatnonzero(unmatched(len(obs), cols) & ~at_a_case)
    absent = now - np.maximum(places.last_seen[rows], observed_since)
    returning = places.attached[rows] & (absent > rule.gap_allowance_s)
    returning_cases = [str(c) for c in places.case[rows][returning]]
    weight = np.where(places.hits[rows] < REF_MEMORY, 1.0 / (places.hits[rows] + 1), 0.0)[:, None]
    places.ref[rows] += (obs.xyxy[cols] - places.ref[rows]) * weight
    look_weight = np.maximum(weight, LOOK_DRIFT)
    known = np.isnan(places.look[rows])
    places.look[rows] = np.where(
        known, looks[cols], places.look[rows] + (looks[cols] - places.look[rows]) * look_weight
    ).astype(np.float32)
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
    if not len(fresh_cols):
        return Sighted(places, returning_cases, settled, np.zeros(0, np.int64))
    stamp = round(now * 1000)
    n = len(fresh_cols)
    boxes = obs.xyxy[fresh_cols].astype(np.float64)
    # places first seen on one frame are told apart by where they are (left to right, then top to
    # bottom), not by score order: a model whose scores differ a little (INT8, a new version) still
    # gives the same object the same key, and so its case the same id
    rank = np.empty(n, np.int64)
    rank[np.lexsort((boxes[:, 1], boxes[:, 0]))] = np.arange(n)
    new = Places(
        key=np.array([f"{key_prefix}/{stamp}/{j}" for j in rank], dtype=object),
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
        frames=np.ones(n, np.int64),
        look=looks[fresh_cols].astype(np.float32),
    )
    return Sighted(places.append(new), returning_cases, settled, np.arange(len(places), len(places) + n))
