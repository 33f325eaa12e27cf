"""Shaping the case store's records: what a frame writes, and the rules read back at start or rollback.

A rule is stored as its zone and rule config beside its state (a restart can tell whether it
changed); a case as the row of the message that last moved it. Every write of the case stage is
shaped here, so the store only has to keep what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.cases.messages import CaseEvent
from edge.cases.rulebook import RuleBook, RuleKey
from edge.cases.rules import CompiledRule, compile_rule, config_json
from edge.cases.state import RuleState
from edge.cases.store import CaseRecord, CaseStore, FrameChanges, HeldPicture
from edge.config import RuleConfig, ZoneConfig
from edge.config.events import EventType
from edge.types import CaseMessage


def rule_record(r: CompiledRule) -> dict[str, Any]:
    """The rule as stored: its config (to tell a changed rule after a restart) and its state."""
    return {"config": config_json(r.zone, r.spec.rule), "state": r.state.to_json()}


def stored_rules(
    store: CaseStore, camera_id: str, events: dict[str, EventType], class_names: dict[str, list[str]]
) -> dict[RuleKey, CompiledRule]:
    """The rules as the store last saved them, with their state (their config may be gone since)."""
    previous = {}
    for key, saved in store.rule_states(camera_id).items():
        zone = ZoneConfig.model_validate({**saved["config"]["zone"], "rules": []})
        rule = RuleConfig.model_validate(saved["config"]["rule"])
        old = compile_rule(camera_id, zone, rule, events, class_names, strict=False)
        old.state = RuleState.from_json(saved["state"])
        previous[key] = old
    return previous


def frame_changes(
    camera_id: str,
    clock: float,
    book: RuleBook,
    events: Sequence[CaseEvent],
    messages: list[CaseMessage],
    pictures: list[HeldPicture],
) -> FrameChanges:
    """One frame's write: the clock, the changed rules, a row per case message, what was dropped."""
    return FrameChanges(
        clock=clock,
        rule_states={r.key: rule_record(r) for r in book.rules.values() if r.dirty},
        cases=[_case_row(camera_id, event, message) for event, message in zip(events, messages, strict=True)],
        pictures=pictures,
        drop_owners=book.dropped_owners,
        drop_rules=book.dropped_rules,
        messages=messages,
    )


def _case_row(camera_id: str, event: CaseEvent, message: CaseMessage) -> CaseRecord:
    case = event.case
    return CaseRecord(
        case_id=case.case_id,
        camera_id=camera_id,
        zone_id=event.rule.zone.id,
        rule_id=event.rule.spec.rule.id,
        phase=case.phase.value,
        seq=case.seq,
        opened=case.confirmed,
        updated=case.last_report,
        body=message.body,
    )


def verification_changes(
    clock: float, stored: CaseRecord, message: CaseMessage, r: CompiledRule | None
) -> FrameChanges:
    """A verification answer's write: the case row moves to the answer's seq (its phase and times stay);
    an open case's rule state (`r`) carries that seq too."""
    row = CaseRecord(
        case_id=stored.case_id,
        camera_id=stored.camera_id,
        zone_id=stored.zone_id,
        rule_id=stored.rule_id,
        phase=stored.phase,
        seq=message.seq,
        opened=stored.opened,
        updated=stored.updated,
        body=message.body,
    )
    changes = FrameChanges(clock=clock, cases=[row], messages=[message])
    if r is not None:
        changes.rule_states = {r.key: rule_record(r)}
    return changes
