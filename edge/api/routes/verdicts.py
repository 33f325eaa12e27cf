"""The platform's verdicts on cases, the objects they suppress, and the quality per zone they add up to.

`POST /api/cases/{case}/verdict` is the HTTP twin of the MQTT `verdict` command (docs/api.md);
both end in `WorkerView.judge`, which validates and stores a verdict once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Response, status
from pydantic import BaseModel, Field

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND, Message
from edge.api.routes.cases import CaseId
from edge.cases import SuppressionView, VerdictError, VerdictRequest
from edge.isotime import iso_utc

SuppressionId = Annotated[
    str, Path(pattern=r"^sup-[0-9a-f]{16}$", description="suppression id, e.g. sup-1f0c9a7e2b44aa01")
]
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"model": Message, "description": "the verdict names another box"},
    404: {"model": Message, "description": "no such case on this box"},
    409: {"model": Message, "description": "the case already has another verdict, or the request id was used"},
}


class VerdictOut(BaseModel):
    case_id: str
    request_id: str
    camera_id: str
    zone_id: str
    rule_id: str
    verdict: str
    reason: str | None
    note: str
    received_at: str = Field(description="ISO-8601 UTC, when the box first stored it")
    suppression_id: str | None = Field(description="the suppression a wrong_object verdict made, else null")
    detail: str = Field(description="what the box did with the verdict, in words")
    replayed: bool = Field(description="true when this answers a retry of a stored verdict (nothing new stored)")


class QualityRow(BaseModel):
    camera_id: str
    zone_id: str
    rule_id: str
    cases: int
    verdicts: int
    confirmed: int
    false_alarms: int
    false_alarm_reasons: dict[str, int]
    precision: float | None = Field(description="confirmed / verdicts; null before the first verdict")
    flagged: bool = Field(description="precision under the threshold over enough verdicts: an operator should look")


class QualityOut(BaseModel):
    flag_min_verdicts: int
    flag_below_precision: float
    rules: list[QualityRow]


class SuppressionOut(BaseModel):
    id: str
    camera_id: str
    zone_id: str
    rule_id: str
    case_id: str = Field(description="the case the platform rejected as wrong_object")
    label: str = Field(description="the object's class")
    box: list[float] = Field(description="[x1, y1, x2, y2] pixels of the object's place")
    created_at: str
    expires_at: str


def _suppression(camera_id: str, s: SuppressionView) -> SuppressionOut:
    return SuppressionOut(
        id=s.id,
        camera_id=camera_id,
        zone_id=s.zone_id,
        rule_id=s.rule_id,
        case_id=s.case_id,
        label=s.label,
        box=list(s.box),
        created_at=iso_utc(s.created),
        expires_at=iso_utc(s.expires),
    )


def router(worker: WorkerView) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["verdicts"])

    @r.post("/cases/{case_id}/verdict", responses=REFUSED)
    def post_verdict(case_id: CaseId, request: Annotated[VerdictRequest, Body()]) -> VerdictOut:
        """The platform's verdict on a case: confirmed, or false_alarm with a reason; idempotent by request_id.

        A false_alarm of reason wrong_object keeps that object at that place from starting a candidate of the
        case's rule until the suppression expires (`verdicts.suppress_days`) or the view changes."""
        try:
            return VerdictOut.model_validate(worker.judge(case_id, request))
        except VerdictError as exc:
            raise HTTPException(exc.status, exc.detail) from None

    @r.get("/quality")
    def get_quality() -> QualityOut:
        """Cases, verdicts and precision per camera, zone and rule; `flagged` marks the noisy ones."""
        bounds = worker.config.verdicts
        return QualityOut(
            flag_min_verdicts=bounds.flag_min_verdicts,
            flag_below_precision=bounds.flag_below_precision,
            rules=[QualityRow.model_validate(q.to_json()) for q in worker.quality()],
        )

    @r.get("/suppressions")
    def list_suppressions() -> list[SuppressionOut]:
        """Objects the platform rejected as wrong_object, per camera and rule, with when each ends."""
        return [_suppression(camera_id, s) for camera_id, rows in worker.suppressions().items() for s in rows]

    @r.delete("/suppressions/{suppression_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
    def delete_suppression(suppression_id: SuppressionId) -> Response:
        """Forget a suppression now: the object may start candidates again."""
        if not worker.remove_suppression(suppression_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no suppression {suppression_id!r}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return r
