"""What the outbox hands out: the sender's next item, dead letters, its health, and its one error."""

from __future__ import annotations

from dataclasses import dataclass

from edge.delivery.disk import DiskLevel
from edge.types import CaseMessage


class OutboxError(Exception):
    """The outbox cannot store a message (bad message, or no disk space even for its record),
    or cannot record what the sender learnt (no disk space even after giving up the reserve);
    `out_of_space` when it was for lack of disk space."""

    def __init__(self, message: str, *, out_of_space: bool = False) -> None:
        super().__init__(message)
        self.out_of_space = out_of_space


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A pending message as the sender sees it."""

    pk: int
    message: CaseMessage
    attempts: int
    thinned: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    case_id: str
    seq: int
    kind: str
    status: int | None
    response: str
    failed_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Health snapshot of the outbox; `problem` is set after recovering from a bad file."""

    pending: int
    delivered: int
    dead: int
    discarded: int
    blocked: int  # pending behind a dead message of the same case
    oldest_pending_age_s: float | None
    stored_mb: float
    max_mb: float
    disk_free_mb: float
    disk_state: DiskLevel  # ok, thin, no_pictures, paused, full (edge.delivery.disk)
    disk_state_since: float | None  # time.time() of the last change; None if it never changed
    accepting_cases: bool  # False while the disk is nearly full: the pipeline opens no new cases
    disk_reserve_mb: float  # held back for acknowledgements; 0 once given up
    thinned_messages: int
    problem: str | None
    last_error: str | None  # why the oldest waiting message is not delivered yet (no connection, refused ...)
