"""Recent case messages and their evidence pictures, as they were queued for the platform.

Pictures are looked up by name inside the message that carries them (never on a file path), and
names must pass the wire format's picture-name rule, so an evidence URL cannot reach any file.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND
from edge.api.routes.cameras import JPEG
from edge.api.routes.zones import ID_PATTERN, UNREADABLE
from edge.api.schemas import CaseOut, PictureLink
from edge.cases import Verdict
from edge.delivery.wire import media_type, picture_name_problem
from edge.types import CaseMessage

RECENT_LIMIT = 200
CaseId = Annotated[str, Path(min_length=1, max_length=256, description="case id")]


class CasesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=RECENT_LIMIT, description="at most this many messages")
    camera_id: str | None = Field(default=None, pattern=ID_PATTERN, description="only this camera's")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="the caller's id for this request: a retry with it gets the same answer",
    )


class VerifyPicture(BaseModel):
    name: str = Field(description="its name in the case's verification message, e.g. 04-verify.jpg")
    sha256: str
    jpeg_base64: str = Field(description="the annotated frame: the zone, and the object or where it stood")


class VerifyOut(BaseModel):
    case_id: str
    request_id: str
    verdict: Verdict
    detail: str = Field(description="the verdict in words")
    requested_at: str = Field(description="ISO-8601 UTC")
    answered_at: str = Field(description="ISO-8601 UTC")
    message_id: str | None = Field(description="the case message carrying this answer; null for unknown_case")
    seq: int | None
    picture: VerifyPicture | None = Field(description="null when no frame was analysed (camera_unavailable)")


PictureName = Annotated[str, Path(min_length=1, max_length=128, description="picture name, e.g. 01-full.jpg")]


def _summary(message: CaseMessage) -> CaseOut:
    body = message.body
    kinds = {e.get("name"): e.get("kind", "") for e in body.get("evidence", []) if isinstance(e, dict)}
    return CaseOut(
        message_id=message.message_id,
        case_id=message.case_id,
        seq=message.seq,
        kind=message.kind,
        camera_id=str(body.get("camera", {}).get("id", "")),
        zone_id=body.get("zone", {}).get("id"),
        zone_version=body.get("zone", {}).get("version"),
        rule_id=body.get("rule", {}).get("id"),
        event_code=body.get("event", {}).get("code"),
        description=str(body.get("description") or body.get("type", "")),
        pictures=[
            PictureLink(name=name, kind=str(kinds.get(name, "")), url=f"/api/cases/{message.case_id}/pictures/{name}")
            for name in message.pictures
        ],
        body=body,
    )


def router(worker: WorkerView) -> APIRouter:
    r = APIRouter(prefix="/api/cases", tags=["cases"])

    @r.get("")
    def recent_cases(query: Annotated[CasesQuery, Query()]) -> list[CaseOut]:
        """Recent case messages, newest first, with links to their evidence pictures."""
        chosen = [_summary(m) for m in worker.recent_messages(RECENT_LIMIT)]
        if query.camera_id is not None:
            chosen = [c for c in chosen if c.camera_id == query.camera_id]
        return chosen[: query.limit]

    def messages_of(case_id: str) -> list[CaseMessage]:
        found = [m for m in worker.recent_messages(RECENT_LIMIT) if m.case_id == case_id]
        if not found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recent messages of case {case_id!r}")
        return found

    @r.get("/{case_id}", responses=NOT_FOUND)
    def get_case(case_id: CaseId) -> list[CaseOut]:
        """The recent messages of one case, newest first."""
        return [_summary(m) for m in messages_of(case_id)]

    @r.get("/{case_id}/pictures/{name}", response_class=Response, responses={**JPEG, **NOT_FOUND})
    def case_picture(case_id: CaseId, name: PictureName) -> Response:
        """One evidence picture (or clip, `.mp4` / `.mov`) of a recent case message."""
        if picture_name_problem(name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no picture {name!r}: not a picture name")
        for message in messages_of(case_id):
            if name in message.pictures:
                return Response(message.pictures[name], media_type=media_type(name))
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_id!r} has no recent picture {name!r}")

    @r.post("/{case_id}/verify", responses={404: {"model": VerifyOut, "description": "unknown_case"}, **UNREADABLE})
    def verify_case(case_id: CaseId, request: Annotated[VerifyIn | None, Body()] = None) -> VerifyOut:
        """Look at a case now: whether its object is still at its place in the camera's next analysed frames.

        Waits at most `verification.timeout_s` (then `camera_unavailable`); the answer is also the case's next
        message to the platform (`kind: verification`)."""
        answer = worker.verify(case_id, request.request_id if request is not None else None).to_json()
        if answer["verdict"] == "unknown_case":
            return JSONResponse(answer, status_code=status.HTTP_404_NOT_FOUND)  # type: ignore[return-value]
        return VerifyOut.model_validate(answer)

    return r
