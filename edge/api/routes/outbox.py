"""Outbox and dead-letter status; an operator re-queues (resend) or gives up on (discard) dead messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND
from edge.api.schemas import Discarded, Resent
from edge.delivery.outbox import DeadLetter, OutboxStats

MessageId = Annotated[str, Path(min_length=1, max_length=300, description="message id '<case_id>:<seq>'")]


def router(worker: WorkerView) -> APIRouter:
    r = APIRouter(prefix="/api/outbox", tags=["outbox"])

    @r.get("")
    def outbox_status() -> OutboxStats:
        """Pending, delivered and dead messages, the oldest pending age, stored size and disk state."""
        return worker.outbox.stats()

    @r.get("/dead")
    def dead_letters() -> list[DeadLetter]:
        """Messages the platform rejected for good, with its answer; they hold back later messages of their case."""
        return worker.outbox.dead_letters()

    @r.post("/dead/resend")
    def resend_all() -> Resent:
        """Re-queue every dead message (after the platform-side problem is fixed)."""
        return Resent(resent=worker.outbox.resend())

    @r.post("/dead/{message_id}/resend", responses=NOT_FOUND)
    def resend(message_id: MessageId) -> Resent:
        count = worker.outbox.resend(message_id)
        if not count:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead message {message_id!r}")
        return Resent(resent=count)

    @r.post("/dead/{message_id}/discard", responses=NOT_FOUND)
    def discard(message_id: MessageId) -> Discarded:
        """Give up on a dead message; the later messages of its case are released."""
        if not worker.outbox.discard(message_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead message {message_id!r}")
        return Discarded(discarded=True)

    return r
