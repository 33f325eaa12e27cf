"""The platform's verdict on a case: its operator confirmed it, or rejected it as a false alarm.

Cities check every auto-captured case by hand before dispatch (核查). The verdict comes back to the
box over `POST /api/cases/{case}/verdict` or the MQTT command topic, is validated here (one model for
both channels), stored with the case state (one verdict per case; a retry with the same request id
gets the stored answer, anything else repeated is refused) and, for `false_alarm` / `wrong_object`,
teaches the camera's rule to ignore that object at that place (`suppress`). A `confirmed` verdict
never suppresses anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.isotime import iso_utc

VerdictKind = Literal["confirmed", "false_alarm"]
Reason = Literal["wrong_object", "not_a_violation", "duplicate", "other"]
REASONS: tuple[Reason, ...] = ("wrong_object", "not_a_violation", "duplicate", "other")
SUPPRESSING: Reason = "wrong_object"  # the only reason that says "this object is not what the rule counts"
REQUEST_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"

ErrorCode = Literal["unknown_case", "other_box", "conflict", "not_stored"]
ERROR_STATUS: dict[ErrorCode, int] = {"unknown_case": 404, "other_box": 403, "conflict": 409, "not_stored": 503}


class VerdictRequest(BaseModel):
    """A verdict as the platform sends it (HTTP body, or an MQTT command's fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(
        pattern=REQUEST_ID, description="the platform's id for this verdict: a retry with it gets the same answer"
    )
    verdict: VerdictKind = Field(description="confirmed, or false_alarm (then `reason` is required)")
    reason: Reason | None = Field(
        default=None, description="why a false alarm: wrong_object, not_a_violation, duplicate or other"
    )
    worker_id: str | None = Field(
        default=None, max_length=64, description="the box the case came from (the case's worker.id); checked when given"
    )
    note: str = Field(default="", max_length=500, description="the operator's words, kept with the verdict")

    @model_validator(mode="after")
    def _reason_fits(self) -> VerdictRequest:
        if self.verdict == "false_alarm" and self.reason is None:
            raise ValueError(f"a false_alarm verdict needs a 'reason', one of {list(REASONS)}")
        if self.verdict == "confirmed" and self.reason is not None:
            raise ValueError("a confirmed verdict takes no 'reason'")
        return self


class VerdictError(Exception):
    """A verdict the box refuses: `code` says which kind of problem (HTTP status in ERROR_STATUS)."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictRecord:
    """A verdict as stored with the case state; `suppression` is the id of the entry it made, if any."""

    case_id: str
    request_id: str
    camera_id: str
    zone_id: str
    rule_id: str
    verdict: VerdictKind
    reason: Reason | None
    note: str
    received: float  # wall-clock seconds
    suppression: str | None
    detail: str  # what the box did with it, in words

    def to_json(self, replayed: bool = False) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "request_id": self.request_id,
            "camera_id": self.camera_id,
            "zone_id": self.zone_id,
            "rule_id": self.rule_id,
            "verdict": self.verdict,
            "reason": self.reason,
            "note": self.note,
            "received_at": iso_utc(self.received),
            "suppression_id": self.suppression,
            "detail": self.detail,
            "replayed": replayed,
        }

    def same_request(self, request: VerdictRequest) -> bool:
        """A retry of this verdict: the same id and the same content."""
        return (self.request_id, self.verdict, self.reason, self.note) == (
            request.request_id,
            request.verdict,
            request.reason,
            request.note,
        )


def repeated(stored: VerdictRecord, request: VerdictRequest, case_id: str) -> bool:
    """True when `request` retries `stored` (answer it again); raises VerdictError for any other repeat."""
    if stored.case_id == case_id and stored.same_request(request):
        return True
    if stored.request_id == request.request_id:
        raise VerdictError(
            "conflict", f"request id {request.request_id!r} was already used for case {stored.case_id!r}"
        )
    what = stored.verdict + (f"/{stored.reason}" if stored.reason else "")
    raise VerdictError(
        "conflict", f"case {case_id!r} already has a verdict ({what}) from request {stored.request_id!r}"
    )
