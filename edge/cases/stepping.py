"""Rule stepping: one analysed frame (or the end of a patrol visit) applied to every rule of a camera.

Per rule: this frame's sightings (`observe`, matched to the places by `places.sight`), then the
lifecycle decisions on them (`lifecycle`): candidates confirmed into cases, open cases re-reported
or cleared, stale places dropped. The result is the frame's `CaseEvent`s, in order, each with what
its message must show; composing the messages is the next stage's work (`messages.Composer`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edge.cases.appearance import FrameLooks
from edge.cases.clock import CaseClock
from edge.cases.comeback import RETURNED, Comebacks
from edge.cases.contract import case_id_for
from edge.cases.lifecycle import Phase, advance, candidate_decisions, case_decision, gone, in_cooldown
from edge.cases.messages import CaseEvent, Facts, Sighting
from edge.cases.observe import Observation, case_per_zone, match_places, observe, position_scores
from edge.cases.places import looks_of, sight
from edge.cases.privacy import Bystanders
from edge.cases.rulebook import RuleBook
from edge.cases.rules import CompiledRule
from edge.cases.schedule import schedule_active
from edge.cases.sightings import FirstSightings
from edge.cases.state import Case, Places
from edge.cases.store import HeldPicture
from edge.cases.suppress import Suppressions
from edge.types import Detections, Frame


@dataclass
class Stepped:
    """What stepping every rule through one frame gives: the case events, in order, and the
    first-seen pictures of places that settled (to store with the frame)."""

    events: list[CaseEvent] = field(default_factory=list)
    pictures: list[HeldPicture] = field(default_factory=list)


class RuleStepper:
    """Advances the rules of a `RuleBook` by one frame at a time."""

    def __init__(
        self,
        book: RuleBook,
        clock: CaseClock,
        first: FirstSightings,
        suppressions: Suppressions,
        comebacks: Comebacks,
    ) -> None:
        self._book = book
        self._clock = clock
        self._first = first
        self._suppressions = suppressions
        self._comebacks = comebacks  # plate rules' cleared cases that their plate may reopen
        self._ending: dict[str, str] = {}  # case id -> reason: cases to clear on the next frame

    def end_case(self, case_id: str, reason: str) -> None:
        """Clear an open case on the next frame (its object was replaced)."""
        self._ending[case_id] = reason

    def frame(
        self,
        facts: Facts,
        frame: Frame,
        now: float,
        detections: Mapping[str, Detections],
        static_objects: Detections | None,
        seen: Bystanders | None,
    ) -> Stepped:
        """Every rule's sightings in this frame and the decisions on them; removed rules' cases clear."""
        out = Stepped()
        looks = FrameLooks(frame.image)  # shared by the rules: the frame's light is measured once
        for r in self._book.rules.values():
            dets = r.detections(detections, static_objects)
            self._step(facts, r, frame, looks, now, dets, out, self._clock.observed_since, seen)
        for orphan in self._book.orphans:
            for case in list(orphan.state.cases.values()):
                out.events.append(self._clear(orphan, case, now, reason="rule_removed"))
        return out

    def absences(self, facts: Facts, frame: Frame, now: float) -> Stepped:
        """A patrol visit has looked: no sightings, and absence counts from the start of the watch."""
        out, looks = Stepped(), FrameLooks(frame.image)
        for r in self._book.rules.values():
            self._step(facts, r, frame, looks, now, None, out, self._clock.watching_since, None)
        return out

    def _step(
        self,
        facts: Facts,
        r: CompiledRule,
        frame: Frame,
        looks: FrameLooks,
        now: float,
        dets: Detections | None,
        out: Stepped,
        since: float,
        seen: Bystanders | None,
    ) -> None:
        """One frame's sightings (none: `dets` None) and the decisions on them; absence counts from `since`."""
        rule, state, timing = r.spec.rule, r.state, r.timing
        visit_started = self._clock.visit_started
        active = rule.enabled and schedule_active(rule.schedule, now, facts.camera.timezone)
        obs = None
        if active and dets is not None:
            obs = observe(r.spec, dets, frame.width, frame.height, frame.media_time)
            state.places.frames += 1  # every place could have been seen in this frame
            if len(obs):
                self._sight(facts, r, obs, frame, looks, now, out, seen)
            state.parts = obs.parts.xyxy.astype(np.float64) if obs.zone_level else state.parts[:0]
        places = state.places
        if not len(places) and not state.cases:
            return
        r.dirty = True
        _, confirm = candidate_decisions(
            now, places.first_seen, places.last_seen, places.attached, timing, since, places.presence, visit_started
        )
        live = in_cooldown(now, state.cooldown_until)
        state.cooldown_box, state.cooldown_until = state.cooldown_box[live], state.cooldown_until[live]
        for i in np.flatnonzero(confirm):
            if self._cooling(r, places.ref[i]):
                continue
            joined = self._open_case(r) if case_per_zone(rule) else self._case_at(r, int(i))
            if joined is not None:
                places.case[i] = joined.case_id
                joined.repeat_count += 1
                continue
            back = self._comebacks.reopen(r, int(i), now)
            if back is not None:  # its plate came back: the cleared case reopens with an update
                shown = Sighting(places.box[i][None, :], [_caption(places, int(i))], _others(obs, places.box[i]))
                out.events.append(CaseEvent.of(r, back, shown, 1, reason=RETURNED))
                continue
            out.events.append(self._confirm(facts, r, int(i), frame, now, obs))
        for case in list(state.cases.values()):
            mine = places.case == case.case_id
            if mine.any():
                case.last_seen = max(case.last_seen, float(places.last_seen[mine].max()))
            step = case_decision(case.phase, now, case.last_seen, case.last_report, timing, since)
            if case.case_id in self._ending:
                out.events.append(self._clear(r, case, now, reason=self._ending.pop(case.case_id)))
            elif step is Phase.CLEARED:
                out.events.append(self._clear(r, case, now))
                self._comebacks.left(r, out.events[-1].case, now)
            elif step is Phase.UPDATED:
                out.events.append(self._update(r, case, now, obs))
        places = state.places  # clearing removed the cleared cases' places
        stale, _ = candidate_decisions(now, places.first_seen, places.last_seen, places.attached, timing, since)
        self._book.drop_places(r, stale | (places.attached & gone(now, places.last_seen, timing, since)))

    def _sight(
        self,
        facts: Facts,
        r: CompiledRule,
        obs: Observation,
        frame: Frame,
        frame_looks: FrameLooks,
        now: float,
        out: Stepped,
        seen: Bystanders | None,
    ) -> None:
        """Match this frame's rows to places; hold first frames of new ones, picture those that settled."""
        rule = r.spec.rule
        looks = looks_of(frame_looks, obs, rule.kind)
        kept = self._suppressions.kept(r.zone.id, rule.id, obs, looks, rule)  # a rejected object starts nothing
        obs, looks = obs.rows(kept), looks[kept]
        since = self._clock.observed_since if self._clock.visit_started <= now else -math.inf
        prefix = f"{r.zone.id}/{rule.id}"
        sighted = sight(r.state.places, obs, looks, rule, now, frame.media_time, prefix, r.state.parts, since)
        places = r.state.places = sighted.places
        for case_id in sighted.returning_cases:
            r.state.cases[case_id].repeat_count += 1  # seen again after an absence: one more capture
        for i in sighted.settled:
            held = self._first.settle(facts, r.spec, str(places.key[i]))
            if held is not None:
                out.pictures.append(held)
        for i in sighted.fresh:
            self._first.hold(str(places.key[i]), frame, places.box[i], str(places.label[i]), now, seen)

    def _cooling(self, r: CompiledRule, ref: np.ndarray) -> bool:
        """A violation cleared less than cooldown_s ago at the same place (or zone) opens no new case."""
        state = r.state
        if not len(state.cooldown_until):
            return False
        if case_per_zone(r.spec.rule):
            return True
        rows, _ = match_places(state.cooldown_box, ref[None, :], r.spec.rule.stationary_tolerance)
        return bool(len(rows))

    def _case_at(self, r: CompiledRule, i: int) -> Case | None:
        """The open case whose object stands where candidate `i` stands: the same violation, not a second one."""
        places = r.state.places
        attached = np.flatnonzero(places.attached)
        position = position_scores(places.ref[attached], places.ref[i][None, :], r.spec.rule.stationary_tolerance)
        hits = attached[position[:, 0] > 0]
        return r.state.cases.get(str(places.case[hits[0]])) if len(hits) else None

    def _open_case(self, r: CompiledRule) -> Case | None:
        return next((c for c in r.state.cases.values() if c.phase is not Phase.CLEARED), None)

    def _confirm(
        self, facts: Facts, r: CompiledRule, i: int, frame: Frame, now: float, obs: Observation | None
    ) -> CaseEvent:
        places = r.state.places
        key = str(places.key[i])
        first_seen = float(places.first_seen[i])
        case = Case(
            case_id=case_id_for(facts.worker_id, facts.camera.id, r.zone.id, r.spec.rule.id, first_seen, key),
            zone_version=self._book.zone_version,
            phase=advance(Phase.CANDIDATE, Phase.CONFIRMED),
            seq=1,
            first_seen=first_seen,
            confirmed=now,
            last_seen=float(places.last_seen[i]),
            last_report=now,
            first_media=float(places.first_media[i]),
            confirmed_media=frame.media_time,
            label=str(places.label[i]),
            score=float(places.score[i]),
            box=places.box[i].tolist(),
        )
        places.case[i] = case.case_id
        r.state.cases[case.case_id] = case
        seen = Sighting(places.box[i][None, :], [_caption(places, i)], _others(obs, places.box[i]), _measure(obs))
        return CaseEvent.of(r, case, seen, 1, first=self._first.picture(key))

    def _update(self, r: CompiledRule, case: Case, now: float, obs: Observation | None) -> CaseEvent:
        places = r.state.places
        mine = np.flatnonzero((places.case == case.case_id) & (places.last_seen >= now))
        mine = mine[np.argsort(-places.first_seen[mine], kind="stable")]  # newest sightings first
        case.phase = advance(case.phase, Phase.UPDATED)
        case.seq += 1
        case.updated = case.last_report = now
        if len(mine):
            newest = mine[0]
            case.box, case.score = places.box[newest].tolist(), float(places.score[newest])
            case.label = str(places.label[newest])
        boxes = places.box[mine] if len(mine) else np.asarray([case.box])
        labels = [_caption(places, int(i)) for i in mine] or [f"{case.label} {case.score:.2f}"]
        seen = Sighting(boxes, labels, _others(obs, boxes[0]), _measure(obs))
        return CaseEvent.of(r, case, seen, len(mine))

    def _clear(self, r: CompiledRule, case: Case, now: float, reason: str | None = None) -> CaseEvent:
        places = r.state.places
        mine = places.case == case.case_id
        case.phase = advance(case.phase, Phase.CLEARED)
        case.seq += 1
        case.cleared = now
        boxes = places.box[mine] if mine.any() else np.asarray([case.box])
        if r.spec.rule.cooldown_s > 0:
            union = np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])[None, :]
            r.state.cooldown_box = np.concatenate([r.state.cooldown_box, union])
            r.state.cooldown_until = np.append(r.state.cooldown_until, now + r.spec.rule.cooldown_s)
        self._book.drop_places(r, mine)
        del r.state.cases[case.case_id]
        r.dirty = True
        seen = Sighting(boxes, ["cleared"] * len(boxes), np.zeros((0, 4)))
        return CaseEvent.of(r, case, seen, int(mine.sum()), reason=reason)


def _caption(places: Places, i: int) -> str:
    return f"{places.label[i]} {float(places.score[i]):.2f}"


def _others(obs: Observation | None, box: np.ndarray) -> np.ndarray:
    if obs is None or not len(obs.parts):
        return np.zeros((0, 4))
    return obs.parts.xyxy[~np.all(np.isclose(obs.parts.xyxy, box[None, :]), axis=1)]


def _measure(obs: Observation | None) -> float | None:
    return None if obs is None else obs.measure
