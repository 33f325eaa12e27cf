"""A plate rule's vehicle that comes back: its cleared case reopens instead of a new case opening.

A case of a rule with `plates: true` is its vehicle's plate (docs/plates.md, "Identity"). When the
case clears (its vehicle gone for `clear_after_s`), it is kept in its rule's state (`RuleState.departed`)
for the rule's `re_report_s`. A candidate that stands at its place meanwhile is offered to the plate
stage (`candidates`), which reads it off the inference loop, while the candidate is still being timed,
and marks it when it carries the cleared case's plate (`mark`). When that candidate confirms, the case
reopens with an "update" (`reopen`) rather than a "new" case. Unmarked candidates (another plate, none
read, no reading done by then) open a new case as before. Both live in the rule state, so they are
stored with it: a restart, or a frame rolled back, keeps them as the store has them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.cases.lifecycle import Phase, advance
from edge.cases.observe import position_scores
from edge.cases.rulebook import RuleBook
from edge.cases.rules import CompiledRule
from edge.cases.state import Case, Departed

RETURNED = "plate_returned"  # the `reason` of the update that reopens a case


@dataclass(frozen=True, slots=True)
class Comeback:
    """A plate rule's case cleared less than `re_report_s` ago, the plate it reported (None when none
    was read: then a return is a new case), and the candidates at its place now: one of them may be its
    vehicle, back."""

    case_id: str
    plate: str | None
    candidates: dict[str, list[float]]  # place key -> box


class Comebacks:
    """Cleared cases of plate rules that their vehicle (the same plate) may still come back to, kept
    in the state of the camera's rules (`book`)."""

    def __init__(self, book: RuleBook, stored_seq: Callable[[str], int]) -> None:
        self._book = book
        self._stored_seq = stored_seq  # a cleared case's latest seq (a verification may have moved it)

    @staticmethod
    def left(r: CompiledRule, case: Case, now: float) -> None:
        """`case` cleared because its vehicle left: keep it for a return if its rule reads plates."""
        rule = r.spec.rule
        if rule.plates and rule.re_report_s > 0:
            r.state.departed[case.case_id] = Departed(case=dataclasses.replace(case), until=now + rule.re_report_s)

    def candidates(self, now: float | None) -> list[Comeback]:
        """Every kept case with the candidates seen now at its place; cases past their window are forgotten."""
        if now is None:
            return []
        out = []
        for r in self._book.rules.values():
            state = r.state
            if not state.departed:
                continue
            kept = {k: d for k, d in state.departed.items() if d.until > now}
            if len(kept) < len(state.departed):
                state.departed = kept
                state.returning = {key: c for key, c in state.returning.items() if c in kept}
                r.dirty = True
            places, tolerance = state.places, r.spec.rule.stationary_tolerance
            waiting = np.flatnonzero(~places.attached & (places.last_seen >= now))
            for case_id, departed in kept.items():
                if case_id in state.cases:
                    continue  # reopened: open again, watched as any open case
                here = position_scores(np.asarray([departed.case.box]), places.ref[waiting], tolerance)[0] > 0
                boxes = {str(places.key[i]): places.box[i].tolist() for i in waiting[here]}
                out.append(Comeback(case_id, departed.case.plate, boxes))
        return out

    def mark(self, case_id: str, place_key: str) -> None:
        """The candidate at `place_key` carries the plate of cleared case `case_id`."""
        for r in self._book.rules.values():
            if case_id in r.state.departed:
                r.state.returning[place_key] = case_id
                r.dirty = True

    def reopen(self, r: CompiledRule, i: int, now: float) -> Case | None:
        """The case candidate `i` of `r` reopens (its plate came back in time), or None: it is a new one."""
        places, state = r.state.places, r.state
        case_id = state.returning.pop(str(places.key[i]), None)
        departed = state.departed.pop(case_id, None) if case_id is not None else None
        if case_id is None or departed is None or case_id in state.cases:
            return None
        case = dataclasses.replace(departed.case, phase=advance(departed.case.phase, Phase.UPDATED), cleared=None)
        case.seq = max(case.seq, self._stored_seq(case_id)) + 1
        case.updated = case.last_report = now
        case.last_seen = float(places.last_seen[i])
        case.box, case.score, case.label = places.box[i].tolist(), float(places.score[i]), str(places.label[i])
        case.repeat_count += 1  # one more capture: the vehicle came back
        places.case[i] = case_id
        state.cases[case_id] = case
        return case

    def identify(self, case_id: str, plate: str) -> None:
        """The plate stage read `plate` on case `case_id`'s messages: the case is that vehicle from now on."""
        for r in self._book.rules.values():
            case = r.state.cases.get(case_id) or (d.case if (d := r.state.departed.get(case_id)) else None)
            if case is not None and case.plate != plate:
                case.plate = plate
                r.dirty = True
