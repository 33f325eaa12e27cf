"""Learned suppression: an object the platform rejected as `wrong_object` never starts a candidate again.

A `false_alarm` verdict of reason `wrong_object` on an open case remembers, for the case's camera
and rule, the class, the place (the place's reference box) and the look (its appearance signature)
of the case's object. A later sighting is dropped before it can start or continue a place only when
it is *that object at that place*: same class, and the dwell's own test of "the same object, still
there" (`places.same_object`: box continuity and appearance, plus `observe.position_scores`: the
same spot) against the remembered entry. A different object at that place (a person standing where
a rejected stone lies, a car parked on it) looks different and makes its case as usual. A sighting
whose look is unknown is never suppressed.

Entries expire (`verdicts.suppress_days`, engine-clock time), and a view change or re-aim ends
them all, as it ends candidates: the remembered place no longer shows the same thing. They live in
the case store, so they survive a restart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from edge.cases.observe import Observation, position_scores
from edge.cases.places import same_object
from edge.cases.state import Places
from edge.cases.store import CaseStore, StoreError, Suppression
from edge.config import RuleConfig

DAY_S = 86400.0
# a rule may switch its same-object checks off (0: the old dwell); suppressing is never that loose
STRICTEST = ("min_continuity", "min_similarity")


@dataclass(frozen=True, slots=True, kw_only=True)
class SuppressionView:
    """An entry as the API lists it and the live view draws it."""

    id: str
    zone_id: str
    rule_id: str
    case_id: str
    label: str
    box: tuple[float, float, float, float]
    created: float
    expires: float


def suppression_id(camera_id: str, case_id: str) -> str:
    """Derived, not random: the same case's verdict gives the same entry id (in a replay too)."""
    return "sup-" + hashlib.sha256(f"{camera_id}\n{case_id}".encode()).hexdigest()[:16]


class Suppressions:
    """The rejected objects of one camera, by (zone, rule); changes are written to the store at once."""

    def __init__(self, store: CaseStore, camera_id: str) -> None:
        self._store = store
        self._camera_id = camera_id
        self._entries: dict[str, Suppression] = {s.id: s for s in store.suppressions(camera_id)}
        self._unsaved: list[str] = []  # dropped here, not yet in the store (it could not be written)

    def views(self) -> list[SuppressionView]:
        return [
            SuppressionView(
                id=s.id,
                zone_id=s.zone_id,
                rule_id=s.rule_id,
                case_id=s.case_id,
                label=s.label,
                box=s.box,
                created=s.created,
                expires=s.expires,
            )
            for s in self._entries.values()
        ]

    def kept(self, zone_id: str, rule_id: str, obs: Observation, looks: np.ndarray, rule: RuleConfig) -> np.ndarray:
        """(rows,) bool: the observation rows that are not a rejected object of this rule."""
        entries = [s for s in self._entries.values() if (s.zone_id, s.rule_id) == (zone_id, rule_id)]
        keep = np.ones(len(obs), bool)
        if not entries or not len(obs):
            return keep
        boxes = np.asarray([s.box for s in entries], np.float64)
        remembered = Places(ref=boxes, box=boxes.copy(), look=np.stack([s.look for s in entries]).astype(np.float32))
        labels = np.asarray([s.label for s in entries], dtype=object)
        same_class = labels[:, None] == np.asarray(obs.labels, dtype=object)[None, :]
        at_place = position_scores(remembered.ref, obs.xyxy, rule.stationary_tolerance) > 0
        hit = same_object(remembered, obs, looks, _at_least_default(rule), where=same_class & at_place)
        known = ~np.isnan(looks).any(axis=1)  # an unknown look matches anything: never grounds to suppress
        return keep & ~(hit.any(axis=0) & known)

    def expire(self, now: float) -> None:
        """Forget the entries whose time is up (and store the drops a full disk held back)."""
        self.remove([s.id for s in self._entries.values() if s.expires <= now])

    def invalidate(self) -> list[str]:
        """The view changed or was re-aimed: no remembered place shows the same thing any more."""
        ids = list(self._entries)
        self.remove(ids)
        return ids

    def remove(self, ids: list[str]) -> list[str]:
        """Drop entries by id (unknown ids are ignored); returns those dropped.

        They stop suppressing at once; a store that cannot write now (a full disk) gets the drop later."""
        found = [i for i in ids if i in self._entries]
        for i in found:
            del self._entries[i]
        pending = self._unsaved + found
        if pending:
            try:
                self._store.drop_suppressions(pending)
                self._unsaved = []
            except StoreError:
                self._unsaved = pending
        return found

    def adopt(self, entry: Suppression) -> None:
        """An entry the store has just saved (with its verdict)."""
        self._entries[entry.id] = entry


def _at_least_default(rule: RuleConfig) -> RuleConfig:
    """The rule's continuity and appearance thresholds, never below their defaults."""
    floors = {name: max(getattr(rule, name), RuleConfig.model_fields[name].default) for name in STRICTEST}
    return rule.model_copy(update=floors)


def remembered(
    *,
    camera_id: str,
    zone_id: str,
    rule_id: str,
    case_id: str,
    places: Places,
    now: float,
    days: float,
) -> Suppression | None:
    """The entry a wrong_object verdict makes from the case's places (its object's rows), None without a look."""
    known = ~np.isnan(places.look).any(axis=1)
    if not known.any():
        return None
    i = int(np.flatnonzero(known)[np.argmax(places.hits[known])])  # the case's longest-seen object
    box = tuple(round(float(v), 2) for v in places.ref[i])
    return Suppression(
        id=suppression_id(camera_id, case_id),
        camera_id=camera_id,
        zone_id=zone_id,
        rule_id=rule_id,
        case_id=case_id,
        label=str(places.label[i]),
        box=box,  # type: ignore[arg-type]
        look=places.look[i].astype(np.float32),
        created=now,
        expires=now + days * DAY_S,
    )
