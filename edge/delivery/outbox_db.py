"""The outbox's SQLite file: schema, opening, transactions, and the sender's small writes.

WAL mode with `synchronous=FULL`: a commit returns only once it is fsync'd. A file that is not a
readable SQLite database is moved aside and a fresh one started (the worker), so the box keeps
taking new cases; `problem` says what happened. A write that may not be lost (an acknowledgement)
may spend the disk reserve (`edge.delivery.disk`) when the disk is full.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from edge.delivery.disk import DiskGuard
from edge.delivery.records import OutboxError
from edge.storage import out_of_space

log = logging.getLogger(__name__)

DONE = "('delivered', 'discarded')"  # states that no longer hold anything back
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    delivered_at REAL,
    last_error TEXT,
    bytes INTEGER NOT NULL,
    thinned TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS messages_case ON messages (case_id, seq);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state, id);
CREATE TABLE IF NOT EXISTS pictures (
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (message, idx)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    message INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    status INTEGER,
    response TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""


def first_of_case(skip: Collection[int]) -> str:
    """A pending message may go when nothing earlier of its case is still pending or dead;
    `skip` are messages already acknowledged whose acknowledgement is not yet on disk."""
    held = f" AND p.id NOT IN ({','.join('?' * len(skip))})" if skip else ""
    return f"""NOT EXISTS (
    SELECT 1 FROM messages p WHERE p.case_id = m.case_id AND p.seq < m.seq
    AND p.state NOT IN {DONE}{held})"""


def tombstone(db: sqlite3.Connection, pks: list[int]) -> None:
    """Drop the body and pictures of finished messages, keeping their id and state."""
    db.executemany("DELETE FROM pictures WHERE message = ?", [(pk,) for pk in pks])
    db.executemany("UPDATE messages SET body = '{}', bytes = 0 WHERE id = ?", [(pk,) for pk in pks])


class OutboxDb:
    """One outbox file, opened; `lock` guards `db` (shared by the case stage's and the sender's threads)."""

    def __init__(self, path: Path, disk: DiskGuard, *, recover: bool) -> None:
        """With `recover`, an unreadable file is moved aside and a fresh one started; without, OutboxError."""
        self.path = path
        self.disk = disk
        self.problem: str | None = None
        self.lock = threading.Lock()
        try:
            self.db = self._open_with_reserve()
        except sqlite3.OperationalError as exc:  # full disk, I/O: the file is fine, never move it aside
            raise OutboxError(f"outbox {self.path} cannot be opened: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if not recover:
                raise OutboxError(f"outbox {self.path} is unreadable: {exc}") from None
            aside = self._move_aside()
            self.problem = f"outbox {self.path} was unreadable ({exc}); moved to {aside.name}, started fresh"
            log.error(self.problem)
            self.db = self._open()

    def _open_with_reserve(self) -> sqlite3.Connection:
        """Open; a disk too full even to open the file gives up the reserve for one more try."""
        try:
            return self._open()
        except sqlite3.OperationalError as exc:
            if not out_of_space(exc) or not self.disk.release_reserve():
                raise
        return self._open()

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            if fresh:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file only
            if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("cannot switch to WAL journal mode")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.replace(Path(str(aside) + suffix))
        return aside

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")  # a full disk may fail the commit itself
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def record(self, what: str, write: Callable[[sqlite3.Connection], T], *, use_reserve: bool = False) -> T:
        """One of the sender's small writes. With `use_reserve` (acknowledgements only: the one write
        whose loss would send a message twice), a full disk gives up the reserve for one more try;
        retries, wake-ups and dead letters never spend it.

        Raises OutboxError when the write fails: the sender then keeps what it learnt in memory."""
        for retry in (False, True):
            try:
                with self.transaction() as db:
                    return write(db)
            except sqlite3.OperationalError as exc:
                if out_of_space(exc):
                    self.disk.note_no_space(what)
                if not out_of_space(exc) or retry or not use_reserve or not self.disk.release_reserve():
                    message = f"outbox {self.path}: cannot record {what}: {exc}"
                    raise OutboxError(message, out_of_space=out_of_space(exc)) from exc
        raise AssertionError("unreachable")

    def stored_bytes(self, state_clause: str = "1") -> int:
        with self.lock:
            (total,) = self.db.execute(f"SELECT COALESCE(SUM(bytes), 0) FROM messages WHERE {state_clause}").fetchone()
        return int(total)

    def reclaim(self) -> None:
        """Give freed pages back to the file system (auto_vacuum=INCREMENTAL, WAL truncated)."""
        with self.lock:
            self.db.execute("PRAGMA incremental_vacuum")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self.lock:
            self.db.close()
