"""Applying a platform verdict to one camera's case state: validate, store once, maybe suppress.

Called by `CaseEngine.judge` under the camera pipeline's lock; the verdict and the suppression it
makes are one transaction of the case store, so a crash keeps both or neither.
"""

from __future__ import annotations

import time

from edge.cases.state import Places
from edge.cases.store import CaseStore, StoreError
from edge.cases.suppress import Suppressions, remembered
from edge.cases.verdicts import SUPPRESSING, VerdictError, VerdictRecord, VerdictRequest, repeated
from edge.config import RuleKind

TRACKED_KINDS = (RuleKind.DWELL, RuleKind.COMBINATION)  # rules whose places carry an appearance signature


def judge(
    *,
    store: CaseStore,
    suppressions: Suppressions,
    camera_id: str,
    case_id: str,
    request: VerdictRequest,
    case_places: tuple[str, Places] | None,
    now: float,
    days: float,
) -> tuple[VerdictRecord, bool]:
    """Store the verdict on `case_id` of this camera; returns it and whether it is a retry's stored answer.

    `case_places`: the rule kind and the places of the case's object while the case is open (None once
    it cleared, or when its rule is gone). Raises VerdictError for an unknown case or a repeat that is
    not a retry (the runtime checks that the case is this box's: edge/runtime/verdicts.py)."""
    record = store.case(case_id)
    if record is None or record.camera_id != camera_id:
        raise VerdictError("unknown_case", f"no case {case_id!r} on this box")
    for stored in (store.verdict(case_id=case_id), store.verdict(request_id=request.request_id)):
        if stored is not None and repeated(stored, request, case_id):
            return stored, True
    entry, detail = None, _detail(request)
    if request.reason == SUPPRESSING:
        kind, places = case_places if case_places is not None else ("", Places())
        if kind not in TRACKED_KINDS:
            detail = f"stored; a {kind or 'cleared'} case's object has no remembered look, so nothing is suppressed"
        elif not len(places):
            detail = "stored; the case's object is not being seen now, so nothing is suppressed"
        else:
            entry = remembered(
                camera_id=camera_id,
                zone_id=record.zone_id,
                rule_id=record.rule_id,
                case_id=case_id,
                places=places,
                now=now,
                days=days,
            )
            if entry is None:
                detail = "stored; the case's object has no appearance signature yet, so nothing is suppressed"
    verdict = VerdictRecord(
        case_id=case_id,
        request_id=request.request_id,
        camera_id=camera_id,
        zone_id=record.zone_id,
        rule_id=record.rule_id,
        verdict=request.verdict,
        reason=request.reason,
        note=request.note,
        received=time.time(),
        suppression=None if entry is None else entry.id,
        detail=detail,
    )
    try:
        store.save_verdict(verdict, entry)
    except StoreError as exc:  # nothing stored: the platform may send it again later
        raise VerdictError("not_stored", f"the verdict could not be stored, send it again later: {exc}") from None
    if entry is not None:
        suppressions.adopt(entry)
    return verdict, False


def _detail(request: VerdictRequest) -> str:
    if request.verdict == "confirmed":
        return "stored; counts toward the zone's precision"
    if request.reason == SUPPRESSING:
        return "stored; this object at this place starts no candidate of the rule until the suppression ends"
    return "stored; counts as a false alarm toward the zone's precision (nothing is suppressed for this reason)"
