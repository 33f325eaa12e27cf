"""SQLite state of the case stage: rule timers and open cases survive a restart or a reconnect.

One file per worker (many cameras may share it). Each frame's changes are written in one
transaction (WAL, synchronous=NORMAL: a power cut loses at most the last frames, never corrupts), so
a restarted engine resumes candidate timers and open cases instead of opening duplicates.

The messages a frame emits are written in that same transaction (the `emitted` tables) and stay
there until the runtime acknowledges that the outbox has them: a crash between the commit and the
outbox can then never lose a message. A frame that emits messages is committed with
synchronous=FULL, so its case state and messages survive a power cut too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.cases.appearance import stored
from edge.cases.verdicts import VerdictRecord
from edge.storage import out_of_space
from edge.types import CaseMessage

SCHEMA_VERSION = 3  # 2: emitted messages awaiting hand-off to the outbox; 3: verdicts and suppressions

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS camera_clock (camera_id TEXT PRIMARY KEY, clock REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (
    camera_id TEXT NOT NULL, zone_id TEXT NOT NULL, rule_id TEXT NOT NULL,
    state TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (camera_id, zone_id, rule_id)
);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, camera_id TEXT NOT NULL, zone_id TEXT NOT NULL, rule_id TEXT NOT NULL,
    phase TEXT NOT NULL, seq INTEGER NOT NULL, opened REAL NOT NULL, updated REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_camera ON cases (camera_id, phase);
CREATE TABLE IF NOT EXISTS pictures (
    owner TEXT NOT NULL, name TEXT NOT NULL, jpeg BLOB NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE TABLE IF NOT EXISTS emitted (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, camera_id TEXT NOT NULL,
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS emitted_by_camera ON emitted (camera_id, id);
CREATE TABLE IF NOT EXISTS emitted_pictures (
    message_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, jpeg BLOB NOT NULL,
    PRIMARY KEY (message_id, idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
    case_id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, camera_id TEXT NOT NULL,
    zone_id TEXT NOT NULL, rule_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT, note TEXT NOT NULL,
    received REAL NOT NULL, suppression TEXT, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_camera ON verdicts (camera_id);
CREATE TABLE IF NOT EXISTS suppressions (
    id TEXT PRIMARY KEY, camera_id TEXT NOT NULL, zone_id TEXT NOT NULL, rule_id TEXT NOT NULL,
    case_id TEXT NOT NULL, label TEXT NOT NULL, box TEXT NOT NULL, look BLOB NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRecord:
    """A case's row: its phase and the body of the message that put it there."""

    case_id: str
    camera_id: str
    zone_id: str
    rule_id: str
    phase: str
    seq: int
    opened: float
    updated: float
    body: dict[str, Any]

    def body_json(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)

    @property
    def box(self) -> np.ndarray:
        """(4,) the pixel box of the case's object in its last message."""
        return np.asarray(self.body["detection"]["box"], np.float64)


@dataclass(frozen=True, slots=True)
class HeldPicture:
    """A picture kept for a place until its case needs it (the first sighting of a parked car)."""

    owner: str  # the place key
    name: str
    jpeg: bytes
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    """An object the platform rejected (`wrong_object`): its class, place and look, for one camera and rule.

    `box`: the place's reference box in pixels; `look`: its appearance signature (edge.cases.appearance);
    `created` / `expires`: engine-clock seconds."""

    id: str
    camera_id: str
    zone_id: str
    rule_id: str
    case_id: str
    label: str
    box: tuple[float, float, float, float]
    look: np.ndarray
    created: float
    expires: float


@dataclass
class FrameChanges:
    """What one analysed frame writes to the store, in one transaction.

    drop_owners: places whose held pictures are no longer needed; drop_rules: (zone, rule) whose
    state is gone (the rule was removed); messages: what the frame emitted, kept until
    `acknowledge`d.
    """

    clock: float = 0.0
    rule_states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cases: list[CaseRecord] = field(default_factory=list)
    pictures: list[HeldPicture] = field(default_factory=list)
    drop_owners: list[str] = field(default_factory=list)
    drop_rules: list[tuple[str, str]] = field(default_factory=list)
    messages: list[CaseMessage] = field(default_factory=list)


_CASE_COLUMNS = "case_id, camera_id, zone_id, rule_id, phase, seq, opened, updated, body"
_VERDICT_COLUMNS = (
    "case_id, request_id, camera_id, zone_id, rule_id, verdict, reason, note, received, suppression, detail"
)


def _verdict_record(row: tuple[Any, ...]) -> VerdictRecord:
    return VerdictRecord(**dict(zip(_VERDICT_COLUMNS.split(", "), row, strict=True)))


def _case_record(row: tuple[Any, ...]) -> CaseRecord:
    *columns, body = row
    return CaseRecord(**dict(zip(_CASE_COLUMNS.split(", ")[:-1], columns, strict=True)), body=json.loads(body))


class StoreError(Exception):
    """The state file cannot be used (unreadable, not SQLite, written by a newer worker), or a write
    failed; `out_of_space` when it failed for lack of disk space (the disk is full, not the file bad)."""

    def __init__(self, message: str, *, out_of_space: bool = False) -> None:
        super().__init__(message)
        self.out_of_space = out_of_space


class CaseStore:
    """Rule state, cases and held pictures of the case stage, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"case state file {self.path} cannot be used: {exc}") from None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"case state file {self.path} has schema {row[0]}; this worker reads {SCHEMA_VERSION}")
        # older files only lacked tables that the schema script has just created
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def clock(self, camera_id: str) -> float | None:
        """The last engine-clock value saved for a camera (the clock never runs backwards)."""
        row = self._query("SELECT clock FROM camera_clock WHERE camera_id=?", (camera_id,))
        return None if not row else float(row[0][0])

    def rule_states(self, camera_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self._query("SELECT zone_id, rule_id, state FROM rule_state WHERE camera_id=?", (camera_id,))
        return {(zone, rule): json.loads(state) for zone, rule, state in rows}

    def case(self, case_id: str) -> CaseRecord | None:
        """A case's row: its camera, zone, rule, phase, seq, times and the last message body stored."""
        rows = self._query(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id=?", (case_id,))
        return _case_record(rows[0]) if rows else None

    def cases(self, camera_id: str, open_only: bool = False) -> list[CaseRecord]:
        """A camera's cases, oldest first (only those not cleared with `open_only`)."""
        sql = f"SELECT {_CASE_COLUMNS} FROM cases WHERE camera_id=?"
        if open_only:
            sql += " AND phase != 'cleared'"
        rows = self._query(sql + " ORDER BY opened, case_id", (camera_id,))
        return [_case_record(row) for row in rows]

    def picture(self, owner: str, name: str) -> tuple[bytes, dict[str, Any]] | None:
        rows = self._query("SELECT jpeg, meta FROM pictures WHERE owner=? AND name=?", (owner, name))
        return None if not rows else (bytes(rows[0][0]), json.loads(rows[0][1]))

    def save(self, camera_id: str, changes: FrameChanges) -> None:
        """Write one frame's changes atomically (fsynced when the frame emitted messages)."""
        with self._write(durable=bool(changes.messages)):
            clock = changes.clock
            self._db.execute(
                "INSERT INTO camera_clock VALUES (?, ?) ON CONFLICT(camera_id) DO UPDATE SET clock=excluded.clock",
                (camera_id, clock),
            )
            self._db.executemany(
                "INSERT INTO rule_state VALUES (?, ?, ?, ?, ?) ON CONFLICT(camera_id, zone_id, rule_id) "
                "DO UPDATE SET state=excluded.state, updated=excluded.updated",
                [(camera_id, z, r, json.dumps(s), clock) for (z, r), s in changes.rule_states.items()],
            )
            self._db.executemany(
                "DELETE FROM rule_state WHERE camera_id=? AND zone_id=? AND rule_id=?",
                [(camera_id, z, r) for z, r in changes.drop_rules],
            )
            self._db.executemany(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(case_id) DO UPDATE SET "
                "phase=excluded.phase, seq=excluded.seq, updated=excluded.updated, body=excluded.body",
                [
                    (c.case_id, camera_id, c.zone_id, c.rule_id, c.phase, c.seq, c.opened, c.updated, c.body_json())
                    for c in changes.cases
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO pictures VALUES (?, ?, ?, ?)",
                [(p.owner, p.name, p.jpeg, json.dumps(p.meta)) for p in changes.pictures],
            )
            self._db.executemany("DELETE FROM pictures WHERE owner=?", [(o,) for o in changes.drop_owners])
            self._db.executemany(
                "INSERT INTO emitted (message_id, camera_id, case_id, seq, kind, body) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (m.message_id, camera_id, m.case_id, m.seq, m.kind, json.dumps(m.body, ensure_ascii=False))
                    for m in changes.messages
                ],
            )
            self._db.executemany(
                "INSERT INTO emitted_pictures VALUES (?, ?, ?, ?)",
                [(m.message_id, i, n, j) for m in changes.messages for i, (n, j) in enumerate(m.pictures.items())],
            )

    # -- verdicts and suppressions ----------------------------------------------------------
    def verdict(self, case_id: str | None = None, request_id: str | None = None) -> VerdictRecord | None:
        """The verdict stored for a case, or under a request id."""
        column, value = ("case_id", case_id) if case_id is not None else ("request_id", request_id)
        rows = self._query(f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE {column}=?", (value,))
        return _verdict_record(rows[0]) if rows else None

    def verdicts(self, camera_id: str) -> list[VerdictRecord]:
        rows = self._query(f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE camera_id=? ORDER BY received", (camera_id,))
        return [_verdict_record(row) for row in rows]

    def save_verdict(self, verdict: VerdictRecord, suppression: Suppression | None) -> None:
        """The verdict and the suppression it makes, in one fsynced transaction (both or neither)."""
        with self._write(durable=True):
            self._db.execute(
                f"INSERT INTO verdicts ({_VERDICT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(getattr(verdict, name) for name in _VERDICT_COLUMNS.split(", ")),
            )
            if suppression is not None:
                self._insert_suppressions([suppression])

    def add_suppressions(self, entries: Sequence[Suppression]) -> None:
        """Entries made elsewhere (a tester's second replay starts from the first one's suppressions)."""
        with self._write(durable=True):
            self._insert_suppressions(entries)

    def _insert_suppressions(self, entries: Sequence[Suppression]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    s.id,
                    s.camera_id,
                    s.zone_id,
                    s.rule_id,
                    s.case_id,
                    s.label,
                    json.dumps(list(s.box)),
                    np.asarray(s.look, "<f4").tobytes(),
                    s.created,
                    s.expires,
                )
                for s in entries
            ],
        )

    def suppressions(self, camera_id: str) -> list[Suppression]:
        rows = self._query("SELECT * FROM suppressions WHERE camera_id=? ORDER BY created, id", (camera_id,))
        return [
            Suppression(
                id=i,
                camera_id=cam,
                zone_id=zone,
                rule_id=rule,
                case_id=case,
                label=label,
                box=tuple(json.loads(box)),
                look=stored(np.frombuffer(look, "<f4")),
                created=created,
                expires=expires,
            )
            for i, cam, zone, rule, case, label, box, look, created, expires in rows
        ]

    def drop_suppressions(self, ids: Sequence[str]) -> None:
        with self._write(durable=True):
            self._db.executemany("DELETE FROM suppressions WHERE id=?", [(i,) for i in ids])

    def case_counts(self, camera_id: str) -> dict[tuple[str, str], int]:
        """Cases opened per (zone, rule) of a camera, as the store keeps them."""
        rows = self._query("SELECT zone_id, rule_id, COUNT(*) FROM cases WHERE camera_id=? GROUP BY 1, 2", (camera_id,))
        return {(zone, rule): int(n) for zone, rule, n in rows}

    def pending(self, camera_id: str) -> list[CaseMessage]:
        """Emitted messages of a camera not yet acknowledged, in emission order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT message_id, case_id, seq, kind, body FROM emitted WHERE camera_id=? ORDER BY id", (camera_id,)
            ).fetchall()
            out = []
            for message_id, case_id, seq, kind, body in rows:
                pictures = self._db.execute(
                    "SELECT name, jpeg FROM emitted_pictures WHERE message_id=? ORDER BY idx", (message_id,)
                ).fetchall()
                out.append(CaseMessage(case_id, seq, kind, json.loads(body), {n: bytes(j) for n, j in pictures}))
            return out

    def acknowledge(self, message_ids: Sequence[str]) -> None:
        """Forget emitted messages that the outbox now holds (unknown ids are ignored)."""
        if not message_ids:
            return
        with self._write(durable=False):
            self._db.executemany("DELETE FROM emitted WHERE message_id=?", [(m,) for m in message_ids])
            self._db.executemany("DELETE FROM emitted_pictures WHERE message_id=?", [(m,) for m in message_ids])

    @contextmanager
    def _write(self, durable: bool) -> Iterator[None]:
        """One transaction; `durable` fsyncs it at commit (WAL otherwise syncs only at checkpoints)."""
        with self._lock:
            try:
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._db.execute("BEGIN")
                yield
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                message = f"case state file {self.path} could not be written: {exc}"
                raise StoreError(message, out_of_space=out_of_space(exc)) from None
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()
