"""A plate rule's vehicle that comes back: its cleared case reopens instead of a new case opening.

A case of a rule with `plates: true` is its vehicle's plate (docs/plates.md, "Identity"). When the
case clears (its vehicle gone for `clear_after_s`), it is kept here for the rule's `re_report_s`.
A candidate that stands at its place meanwhile is offered to the plate stage (`candidates`), which
reads it off the inference loop, while the candidate is still being timed, and marks it when it
carries the cleared case's plate (`mark`). When that candidate confirms, the case reopens with an
"update" (`reopen`) rather than a "new" case. Unmarked candidates (another plate, none read, no
reading done by then) open a new case as before. Kept in memory: a restart forgets cleared cases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.cases.lifecycle import Phase, advance
from edge.cases.observe import position_scores
from edge.cases.rulebook import RuleKey
from edge.cases.rules import CompiledRule
from edge.cases.state import Case

RETURNED = "plate_returned"  # the `reason` of the update that reopens a case


@dataclass(frozen=True, slots=True)
class Comeback:
    """A plate rule's case cleared less than `re_report_s` ago and the candidates at its place now:
    one of them may be its vehicle, back."""

    case_id: str
    candidates: dict[str, list[float]]  # place key -> box


@dataclass(slots=True)
class _Left:
    rule: RuleKey
    case: Case  # as it was cleared
    until: float  # clock value after which a return is a new case


class Comebacks:
    """Cleared cases of plate rules that their vehicle (the same plate) may still come back to."""

    def __init__(self, stored_seq: Callable[[str], int]) -> None:
        self._stored_seq = stored_seq  # a cleared case's latest seq (a verification may have moved it)
        self._left: dict[str, _Left] = {}
        self._marked: dict[str, str] = {}  # candidate place key -> the case whose plate it carries

    def left(self, r: CompiledRule, case: Case, now: float) -> None:
        """`case` cleared because its vehicle left: keep it for a return if its rule reads plates."""
        rule = r.spec.rule
        if rule.plates and rule.re_report_s > 0:
            self._left[case.case_id] = _Left(r.key, dataclasses.replace(case), now + rule.re_report_s)

    def candidates(self, rules: dict[RuleKey, CompiledRule], now: float | None) -> list[Comeback]:
        """Every kept case with the candidates seen now at its place; cases past their window are forgotten."""
        if now is None:
            return []
        self._left = {k: v for k, v in self._left.items() if v.until > now and v.rule in rules}
        self._marked = {key: case_id for key, case_id in self._marked.items() if case_id in self._left}
        out = []
        for case_id, left in self._left.items():
            places = rules[left.rule].state.places
            if case_id in rules[left.rule].state.cases:
                continue  # reopened: open again, watched as any open case
            waiting = np.flatnonzero(~places.attached & (places.last_seen >= now))
            tolerance = rules[left.rule].spec.rule.stationary_tolerance
            here = position_scores(np.asarray([left.case.box]), places.ref[waiting], tolerance)[0] > 0
            out.append(Comeback(case_id, {str(places.key[i]): places.box[i].tolist() for i in waiting[here]}))
        return out

    def mark(self, case_id: str, place_key: str) -> None:
        """The candidate at `place_key` carries the plate of cleared case `case_id`."""
        if case_id in self._left:
            self._marked[place_key] = case_id

    def reopen(self, r: CompiledRule, i: int, now: float) -> Case | None:
        """The case candidate `i` of `r` reopens (its plate came back in time), or None: it is a new one."""
        places = r.state.places
        case_id = self._marked.get(str(places.key[i]))
        left = self._left.get(case_id) if case_id is not None else None
        if case_id is None or left is None or left.rule != r.key or case_id in r.state.cases:
            return None
        case = dataclasses.replace(left.case, phase=advance(left.case.phase, Phase.UPDATED), cleared=None)
        case.seq = max(case.seq, self._stored_seq(case_id)) + 1
        case.updated = case.last_report = now
        case.last_seen = float(places.last_seen[i])
        case.box, case.score, case.label = places.box[i].tolist(), float(places.score[i]), str(places.label[i])
        case.repeat_count += 1  # one more capture: the vehicle came back
        places.case[i] = case_id
        r.state.cases[case_id] = case
        return case
