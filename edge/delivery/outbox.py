"""The durable outbox: every case message and its pictures are on disk before any send.

SQLite in WAL mode with `synchronous=FULL`: `put()` returns only after the commit is
fsync'd, so a power cut after `put()` loses nothing. A message is `pending` until the
platform acknowledges it (`delivered`), or until a permanent rejection moves it to the
dead-letter table (`dead`); an operator can re-queue a dead message (`resend`) or give
up on it (`discard`).

Order: messages of one case leave in `seq` order. A dead message holds back the later
messages of its own case (they would describe a case the platform never accepted, or
skip a state), while every other case keeps flowing; `resend` or `discard` releases them.

Bounds: delivered items are pruned oldest-first beyond `max_mb` (down to a small tombstone, so a
message handed over again after a crash is still recognised and not sent twice); when pending
items alone exceed it, pending messages lose their evidence clips first, then keep their record
and first picture while the others are dropped ("thinned"), oldest first (`edge.delivery.outbox_bounds`).
Free disk is a state (`edge.delivery.disk`): under pressure new messages keep fewer pictures (no
clip), and acknowledgements may use the reserve. Cases are never dropped. A file that is not a
readable SQLite database is moved aside and a fresh outbox started (`edge.delivery.outbox_db`), so
the worker keeps taking new cases; `stats().problem` says what happened.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import get_args

from edge.config.delivery import StorageConfig
from edge.delivery.disk import DiskGuard, DiskLevel, Watermarks
from edge.delivery.outbox_bounds import enforce_bounds, over_budget
from edge.delivery.outbox_db import OutboxDb, first_of_case, tombstone
from edge.delivery.records import DeadLetter, OutboxError, OutboxItem, OutboxStats
from edge.delivery.wire import picture_name_problem
from edge.storage import out_of_space
from edge.types import CaseMessage, MessageKind

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
_KINDS = get_args(MessageKind)


class Outbox:
    """SQLite outbox shared by the case stage (`put`) and the sender; thread-safe."""

    def __init__(
        self,
        path: Path,
        *,
        max_mb: float = 2048.0,
        min_free_mb: float = 500.0,
        watermarks: Watermarks | None = None,
        recover: bool = True,
    ) -> None:
        """Open or create the outbox. With `recover`, an unreadable file is moved aside and a
        fresh one started (the worker); without, it raises OutboxError (operator tools, which
        must not pull the file from under a running worker). `watermarks` (default: derived from
        `min_free_mb`, no reserve) set the disk-pressure levels of the folder it lives in."""
        self.path = Path(path)
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.changed = threading.Event()  # set on put/resend so an idle sender wakes at once
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.disk = DiskGuard(self.path.parent, watermarks or Watermarks.below(min_free_mb))
        self._store = OutboxDb(self.path, self.disk, recover=recover)
        self.problem = self._store.problem

    @classmethod
    def from_config(cls, storage: StorageConfig, *, recover: bool = True) -> Outbox:
        marks = Watermarks.from_storage(storage, reserve=recover)
        return cls(outbox_path(storage), max_mb=storage.max_outbox_mb, watermarks=marks, recover=recover)

    def close(self) -> None:
        self._store.close()

    # -- the case stage's side ------------------------------------------------------------

    def put(self, msg: CaseMessage) -> bool:
        """Store `msg` with its pictures, durably. False when its message_id is already stored."""
        if msg.kind not in _KINDS:
            raise OutboxError(f"message {msg.message_id}: kind must be one of {_KINDS}, got {msg.kind!r}")
        for name in msg.pictures:
            problem = picture_name_problem(name)
            if problem:
                raise OutboxError(f"message {msg.message_id}: {problem}")
        try:
            body = json.dumps(msg.body, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise OutboxError(f"message {msg.message_id}: body is not JSON: {exc}") from None
        pictures = list(msg.pictures.items())
        allowance = self.disk.picture_allowance()
        if allowance is not None and len(pictures) > allowance:
            self._try_bounds()  # pruning delivered items may be enough to lift the pressure
            allowance = self.disk.picture_allowance()
            if allowance is not None:
                pictures = pictures[:allowance]
        try:
            stored = self._insert(msg, body, pictures)
        except sqlite3.OperationalError as exc:
            if not out_of_space(exc):
                raise OutboxError(f"message {msg.message_id}: cannot store: {exc}") from exc
            self.disk.note_no_space(f"case message {msg.message_id}")
            if not pictures:
                raise OutboxError(f"message {msg.message_id}: cannot store: {exc}", out_of_space=True) from exc
            log.error("disk full: storing case message %s without pictures", msg.message_id)
            try:
                stored = self._insert(msg, body, [])
            except sqlite3.OperationalError as again:
                full = out_of_space(again)
                raise OutboxError(f"message {msg.message_id}: cannot store: {again}", out_of_space=full) from again
        if stored:
            self.changed.set()
            if over_budget(self._store, self.max_bytes):
                self._try_bounds()
        return stored

    def _try_bounds(self) -> None:
        """Bounds on the way of a put: freeing space may itself need space a full disk lacks."""
        try:
            self.enforce_bounds()
        except sqlite3.OperationalError as exc:
            log.warning("outbox: cannot free space now: %s", exc)

    def _insert(self, msg: CaseMessage, body: str, pictures: list[tuple[str, bytes]]) -> bool:
        thinned = [name for name in msg.pictures if name not in dict(pictures)]
        size = len(body.encode()) + sum(len(data) for _, data in pictures)
        with self._store.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO messages (message_id, case_id, seq, kind, body, created_at, bytes, thinned)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (msg.message_id, msg.case_id, msg.seq, msg.kind, body, time.time(), size, json.dumps(thinned)),
            )
            if cur.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO pictures (message, idx, name, data) VALUES (?, ?, ?, ?)",
                [(cur.lastrowid, i, name, data) for i, (name, data) in enumerate(pictures)],
            )
        if thinned:
            log.warning("disk pressure %s: %s stored without %s", self.disk.level.value, msg.message_id, thinned)
        return True

    # -- the sender's side ----------------------------------------------------------------

    def next_ready(self, now: float, skip: Collection[int] = ()) -> OutboxItem | None:
        """The oldest pending message due by `now` and first in line for its case.

        `skip`: messages acknowledged by the platform whose acknowledgement is not on disk yet;
        they count as delivered (never sent again, and their case's next message may go)."""
        items = self.next_ready_batch(now, skip, 1)
        return items[0] if items else None

    def next_ready_batch(self, now: float, skip: Collection[int], limit: int) -> list[OutboxItem]:
        """Up to `limit` of the oldest pending messages due by `now`, each first in line for its case
        (so never two of one case: a case's messages still leave in `seq` order)."""
        skip = list(skip)
        held = f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        with self._store.lock:
            rows = self._store.db.execute(
                "SELECT id, case_id, seq, kind, body, attempts, thinned FROM messages m"
                f" WHERE state = 'pending' AND next_attempt_at <= ?{held} AND {first_of_case(skip)}"
                " ORDER BY id LIMIT ?",
                (now, *skip, *skip, limit),
            ).fetchall()
            pictures = {
                pk: self._store.db.execute(
                    "SELECT name, data FROM pictures WHERE message = ? ORDER BY idx", (pk,)
                ).fetchall()
                for pk, *_ in rows
            }
        return [
            OutboxItem(
                pk,
                CaseMessage(case_id, seq, kind, json.loads(body), dict(pictures[pk])),
                attempts,
                tuple(json.loads(thinned)),
            )
            for pk, case_id, seq, kind, body, attempts, thinned in rows
        ]

    def next_attempt_time(self, skip: Collection[int] = ()) -> float | None:
        """When the earliest first-in-line pending message becomes due; None when none waits."""
        skip = list(skip)
        held = f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        with self._store.lock:
            (due,) = self._store.db.execute(
                f"SELECT MIN(next_attempt_at) FROM messages m WHERE state = 'pending'{held} AND {first_of_case(skip)}",
                (*skip, *skip),
            ).fetchone()
        return due

    def retry_all_now(self) -> int:
        """Make every pending message due (a starting sender, or the platform back after an outage);
        returns how many were waiting on a backoff."""
        return self._store.record(
            "a wake-up",
            lambda db: (
                db.execute(
                    "UPDATE messages SET next_attempt_at = 0 WHERE state = 'pending' AND next_attempt_at > 0"
                ).rowcount
            ),
        )

    def mark_delivered(self, *pks: int) -> None:
        """Record acknowledgements (one transaction). Under disk pressure the delivered messages
        are pruned to tombstones at once, giving their pictures' space back."""
        pressed = self.disk.level != DiskLevel.OK
        now = time.time()

        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE messages SET state = 'delivered', delivered_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE id = ?",
                [(now, pk) for pk in pks],
            )
            if pressed:
                tombstone(db, list(pks))

        self._store.record(f"{len(pks)} acknowledgement(s)", write, use_reserve=True)
        if pressed:
            self._store.reclaim()

    def mark_retry(self, pk: int, error: str, next_attempt_at: float) -> None:
        self._store.record(
            "a retry",
            lambda db: db.execute(
                "UPDATE messages SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, next_attempt_at, pk),
            ),
        )

    def mark_dead(self, pk: int, sink_kind: str, status: int | None, response: str) -> None:
        """A permanent rejection; `sink_kind` labels the status (an HTTP status, an MQTT reason code)."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE messages SET state = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
                (f"{sink_kind.upper()} {status}: {response[:200]}", pk),
            )
            db.execute(
                "INSERT OR REPLACE INTO dead_letters (message, status, response, failed_at) VALUES (?, ?, ?, ?)",
                (pk, status, response, time.time()),
            )

        self._store.record("a dead letter", write)

    # -- the operator's side --------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        with self._store.lock:
            rows = self._store.db.execute(
                "SELECT m.message_id, m.case_id, m.seq, m.kind, d.status, d.response, d.failed_at, m.attempts"
                " FROM dead_letters d JOIN messages m ON m.id = d.message ORDER BY d.failed_at"
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def resend(self, message_id: str | None = None) -> int:
        """Re-queue one dead message (or all with None); returns how many were re-queued."""
        where = "state = 'dead'" + (" AND message_id = ?" if message_id is not None else "")
        args = (message_id,) if message_id is not None else ()
        with self._store.transaction() as db:
            db.execute(f"DELETE FROM dead_letters WHERE message IN (SELECT id FROM messages WHERE {where})", args)
            count = db.execute(
                f"UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE {where}", args
            ).rowcount
        if count:
            self.changed.set()
        return count

    def discard(self, message_id: str) -> bool:
        """Give up on a dead message, releasing the later messages of its case."""
        with self._store.transaction() as db:
            count = db.execute(
                "UPDATE messages SET state = 'discarded' WHERE state = 'dead' AND message_id = ?", (message_id,)
            ).rowcount
        if count:
            self.changed.set()
        return bool(count)

    # -- bounds and health ----------------------------------------------------------------

    def enforce_bounds(self) -> None:
        """Prune delivered items oldest-first, then thin pending pictures, until within bounds."""
        enforce_bounds(self._store, self.max_bytes)

    def stats(self) -> OutboxStats:
        now = time.time()
        with self._store.lock:
            counts = dict(self._store.db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state").fetchall())
            (oldest,) = self._store.db.execute(
                "SELECT MIN(created_at) FROM messages WHERE state = 'pending'"
            ).fetchone()
            (blocked,) = self._store.db.execute(
                "SELECT COUNT(*) FROM messages m WHERE state = 'pending' AND EXISTS (SELECT 1 FROM messages p"
                " WHERE p.case_id = m.case_id AND p.seq < m.seq AND p.state = 'dead')"
            ).fetchone()
            (thinned,) = self._store.db.execute("SELECT COUNT(*) FROM messages WHERE thinned != '[]'").fetchone()
            error = self._store.db.execute(
                "SELECT last_error FROM messages WHERE state = 'pending' AND last_error IS NOT NULL ORDER BY id LIMIT 1"
            ).fetchone()
        disk = self.disk.status()
        return OutboxStats(
            pending=counts.get("pending", 0),
            delivered=counts.get("delivered", 0),
            dead=counts.get("dead", 0),
            discarded=counts.get("discarded", 0),
            blocked=blocked,
            oldest_pending_age_s=None if oldest is None else max(0.0, now - oldest),
            stored_mb=self._store.stored_bytes() / 2**20,
            max_mb=self.max_bytes / 2**20,
            disk_free_mb=disk.free_mb,
            disk_state=disk.level,
            disk_state_since=disk.since,
            accepting_cases=disk.level.accepts_cases,
            disk_reserve_mb=disk.reserve_mb,
            thinned_messages=thinned,
            problem=self.problem,
            last_error=error[0] if error else None,
        )


def outbox_path(storage: StorageConfig) -> Path:
    """Where the worker keeps its outbox: `<storage.dir>/outbox.db`."""
    return Path(storage.dir) / OUTBOX_FILE
