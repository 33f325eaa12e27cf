"""The compiled rules of one camera, as config edits and store rollbacks change them.

A rule's state (places, open cases, cooldowns) outlives an edit that leaves the rule as it was; a
changed rule keeps its open cases but restarts its candidate timers; a removed rule's open cases
are cleared on the next frame (its `orphans`). What the next store write must also remove (held
pictures of dropped places, the state of removed rules) waits here until it is committed.
"""

from __future__ import annotations

import numpy as np

from edge.cases.rules import CompiledRule, compile_rule
from edge.cases.sightings import FirstSightings
from edge.config import CameraConfig
from edge.config.events import EventType

RuleKey = tuple[str, str]  # (zone id, rule id)


class RuleBook:
    """The rules of one camera with their state, and what their changes leave for the store to drop."""

    def __init__(self, events: dict[str, EventType], class_names: dict[str, list[str]], first: FirstSightings) -> None:
        self._events = events
        self._names = class_names
        self._first = first
        self.rules: dict[RuleKey, CompiledRule] = {}
        self.orphans: list[CompiledRule] = []  # removed rules with open cases: cleared on the next frame
        self.dropped_rules: list[RuleKey] = []  # removed rules whose stored state goes with the next write
        self.dropped_owners: list[str] = []  # places dropped since the last write: their held pictures go
        self.zone_version = 1

    def install(self, camera: CameraConfig, zone_version: int, previous: dict[RuleKey, CompiledRule]) -> None:
        """Compile the camera's rules; carry over state of unchanged rules, open cases of changed ones."""
        rules = {}
        for placed in camera.rules():
            new = compile_rule(camera.id, placed.zone, placed.rule, self._events, self._names)
            old = previous.pop(new.key, None)
            if old is not None:
                new.state = old.state
                if old.fingerprint != new.fingerprint:  # timers measured under other conditions restart
                    self.drop_places(new, ~new.state.places.attached)
            rules[new.key] = new
        self.orphans.extend(old for old in previous.values() if old.state.cases)
        self.dropped_rules.extend(key for key in previous if key not in rules)
        self.rules = rules
        self.zone_version = zone_version

    def drop_places(self, r: CompiledRule, mask: np.ndarray) -> None:
        """Drop the rule's places in `mask`: their held first sightings go now, their stored pictures with
        the next write."""
        places = r.state.places
        keys = places.key[mask]
        self._first.forget(keys)
        self.dropped_owners.extend(keys.tolist())
        r.state.places = places.subset(~mask)

    def end_candidates(self) -> None:
        """Every place still timing is dropped; open cases keep their places."""
        for r in self.rules.values():
            waiting = ~r.state.places.attached
            if waiting.any():
                self.drop_places(r, waiting)
                r.dirty = True

    def committed(self) -> None:
        """The store holds this state now: nothing is pending any more."""
        self.orphans, self.dropped_rules, self.dropped_owners = [], [], []
        for r in self.rules.values():
            r.dirty = False

    def roll_back(self, camera: CameraConfig, stored: dict[RuleKey, CompiledRule]) -> None:
        """Back to what the store holds (`stored`): this frame's changes never happened.

        Rules the store still holds but the config no longer has become orphans again, exactly as at start.
        """
        self.orphans, self.dropped_rules, self.dropped_owners = [], [], []
        self.install(camera, self.zone_version, stored)
        for r in self.rules.values():
            r.dirty = True
        self._first.keep_only({str(k) for r in self.rules.values() for k in r.state.places.key})

    def timing_candidates(self) -> bool:
        """True while any rule is timing a place that has no case yet."""
        return any((~r.state.places.attached).any() for r in self.rules.values())

    def decision_due(self) -> float | None:
        """The earliest clock value at which a rule could confirm a candidate or clear a case."""
        times = []
        for r in self.rules.values():
            places, timing = r.state.places, r.timing
            waiting = ~places.attached
            if waiting.any():
                times.append(float((places.first_seen[waiting] + timing.min_duration_s).min()))
            times += [case.last_seen + timing.clear_after_s for case in r.state.cases.values()]
        return min(times, default=None)
