"""Recent case messages and their evidence pictures, as they were queued for the platform.

Pictures are looked up by name inside the message that carries them (never on a file path), and
names must pass the wire format's picture-name rule, so an evidence URL cannot reach any file.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND
from edge.api.routes.cameras import JPEG
from edge.api.routes.zones import ID_PATTERN
from edge.api.schemas import CaseOut, PictureLink
from edge.delivery.wire import picture_name_problem
from edge.types import CaseMessage

RECENT_LIMIT = 200
CaseId = Annotated[str, Path(min_length=1, max_length=256, description="case id")]


class CasesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=RECENT_LIMIT, description="at most this many messages")
    camera_id: str | None = Field(None, pattern=ID_PATTERN, description="only this camera's")


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
        """One evidence picture of a recent case message."""
        if picture_name_problem(name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no picture {name!r}: not a picture name")
        for message in messages_of(case_id):
            if name in message.pictures:
                return Response(message.pictures[name], media_type="image/jpeg")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_id!r} has no recent picture {name!r}")

    return r
