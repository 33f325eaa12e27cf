"""SQLite storage of the stand-in platform: case messages, their pictures (as blobs), and
the original answer to each idempotency key.

Pictures live in the same database as their message, so a message and its evidence are
stored in one transaction, and a picture is found by (case, name) lookup: no file paths
are ever built from request data.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from edge.http_server import ServerError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    arrival INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    thinned TEXT NOT NULL,
    received_at REAL NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_case ON messages (case_id, arrival);
CREATE TABLE IF NOT EXISTS pictures (
    message_id TEXT NOT NULL REFERENCES messages (message_id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (message_id, name)
);
CREATE TABLE IF NOT EXISTS verdicts (
    case_id TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS boxes (
    worker_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    received_at REAL NOT NULL
);
"""


class ReceiverStoreError(ServerError):
    """The receiver cannot start: its database file cannot be created or is not a receiver database."""


def picture_url(case_id: str, name: str) -> str:
    return f"/api/cases/{quote(case_id, safe='')}/pictures/{quote(name, safe='')}"


class ReceiverStore:
    """Thread-safe access to the receiver database."""

    def __init__(self, db_path: Path) -> None:
        db_path = Path(db_path)
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise ReceiverStoreError(f"receiver database {db_path} cannot be created: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
            if not {"message_id", "result"} <= columns:  # e.g. the worker's outbox.db given by mistake
                raise sqlite3.DatabaseError("it holds another program's 'messages' table")
        except sqlite3.Error as exc:
            self._db.close()
            raise ReceiverStoreError(f"receiver database {db_path} cannot be used: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def result(self, message_id: str) -> dict[str, Any] | None:
        """The original answer for an idempotency key, or None when the key is new."""
        with self._lock:
            row = self._db.execute("SELECT result FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def save(self, envelope: dict[str, Any], pictures: dict[str, bytes]) -> tuple[dict[str, Any], bool]:
        """Store a message once. Returns (result, created); a known key returns its original result."""
        message_id = envelope["message_id"]
        now = time.time()
        result = {
            "message_id": message_id,
            "case_id": envelope["case_id"],
            "seq": envelope["seq"],
            "kind": envelope["kind"],
            "received_at": now,
            "pictures": sorted(pictures),
            "thinned": envelope.get("thinned", []),
        }
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT result FROM messages WHERE message_id = ?", (message_id,)).fetchone()
                if row is not None:
                    self._db.execute("ROLLBACK")
                    return json.loads(row[0]), False
                self._db.execute(
                    "INSERT INTO messages (message_id, case_id, seq, kind, body, thinned, received_at, result)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        envelope["case_id"],
                        envelope["seq"],
                        envelope["kind"],
                        json.dumps(envelope["body"], ensure_ascii=False),
                        json.dumps(result["thinned"]),
                        now,
                        json.dumps(result, ensure_ascii=False),
                    ),
                )
                self._db.executemany(
                    "INSERT INTO pictures (message_id, name, data) VALUES (?, ?, ?)",
                    [(message_id, name, data) for name, data in pictures.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return result, True

    def _messages(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT arrival, message_id, case_id, seq, kind, body, thinned, received_at FROM messages"
                f" WHERE {where} ORDER BY arrival",
                args,
            ).fetchall()
            names = self._db.execute(
                "SELECT p.message_id, p.name, LENGTH(p.data) FROM pictures p JOIN messages m"
                f" ON m.message_id = p.message_id WHERE {where} ORDER BY p.name",
                args,
            ).fetchall()
        pictures: dict[str, list[dict[str, Any]]] = {}
        for message_id, name, size in names:
            pictures.setdefault(message_id, []).append({"name": name, "bytes": size})
        out = []
        for arrival, message_id, case_id, seq, kind, body, thinned, received_at in rows:
            pics = [{**p, "url": picture_url(case_id, p["name"])} for p in pictures.get(message_id, [])]
            out.append(
                {
                    "arrival": arrival,
                    "message_id": message_id,
                    "case_id": case_id,
                    "seq": seq,
                    "kind": kind,
                    "body": json.loads(body),
                    "thinned": json.loads(thinned),
                    "received_at": received_at,
                    "pictures": pics,
                }
            )
        return out

    def list_cases(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Cases in order of first arrival, each with its latest state."""
        with self._lock:
            ids = [
                case_id
                for (case_id,) in self._db.execute(
                    "SELECT case_id FROM messages GROUP BY case_id ORDER BY MIN(arrival) LIMIT ? OFFSET ?",
                    (limit, offset),
                )
            ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        by_case: dict[str, list[dict[str, Any]]] = {case_id: [] for case_id in ids}
        for message in self._messages(f"case_id IN ({marks})", tuple(ids)):
            by_case[message["case_id"]].append(message)
        boxes = self.boxes()
        judged = self.verdicts(ids)
        return [
            {**with_box(summarise(messages), boxes), "verdict": judged.get(case_id)}
            for case_id, messages in by_case.items()
        ]

    def case(self, case_id: str) -> dict[str, Any] | None:
        messages = self._messages("case_id = ?", (case_id,))
        if not messages:
            return None
        return {**summarise(messages), "verdict": self.verdicts([case_id]).get(case_id), "messages": messages}

    def picture(self, case_id: str, name: str) -> bytes | None:
        """The most recent picture of that name within the case."""
        with self._lock:
            row = self._db.execute(
                "SELECT p.data FROM pictures p JOIN messages m ON m.message_id = p.message_id"
                " WHERE m.case_id = ? AND p.name = ? ORDER BY m.arrival DESC LIMIT 1",
                (case_id, name),
            ).fetchone()
        return None if row is None else row[0]

    def save_box(self, worker_id: str, status: dict[str, Any]) -> None:
        """Keep the latest status a box (edge worker) published about itself."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO boxes (worker_id, status, received_at) VALUES (?, ?, ?)",
                (worker_id, json.dumps(status, ensure_ascii=False), time.time()),
            )

    def boxes(self) -> dict[str, dict[str, Any]]:
        """Every box heard of, by worker id: `online`, its last status and when it came."""
        with self._lock:
            rows = self._db.execute("SELECT worker_id, status, received_at FROM boxes ORDER BY worker_id").fetchall()
        out = {}
        for worker_id, status, received_at in rows:
            last = json.loads(status)
            out[worker_id] = {
                "worker_id": worker_id,
                "online": bool(last.get("online")),
                "received_at": received_at,
                "status": last,
            }
        return out

    def save_verdict(self, case_id: str, answer: dict[str, Any]) -> None:
        """Keep the verdict the box accepted for a case (its answer, as the box stored it)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts (case_id, answer, received_at) VALUES (?, ?, ?)",
                (case_id, json.dumps(answer, ensure_ascii=False), time.time()),
            )

    def verdicts(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        marks = ",".join("?" * len(case_ids))
        with self._lock:
            rows = self._db.execute(f"SELECT case_id, answer FROM verdicts WHERE case_id IN ({marks})", case_ids)
            return {case_id: json.loads(answer) for case_id, answer in rows.fetchall()}

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def with_box(case: dict[str, Any], boxes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The case with the box that reported it (`worker` in the body) and whether it is online now."""
    worker = case["latest"].get("worker")
    worker_id = worker.get("id") if isinstance(worker, dict) else None
    box = boxes.get(worker_id) if isinstance(worker_id, str) else None
    return {**case, "box": None if box is None else {"worker_id": worker_id, "online": box["online"]}}


def summarise(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One case's latest state from its messages (in arrival order)."""
    latest = max(messages, key=lambda m: m["seq"])
    checks = [m for m in messages if m["kind"] == "verification"]
    lifecycle = [m for m in messages if m["kind"] != "verification"] or messages
    urls = {p["name"]: p["url"] for m in messages for p in m["pictures"]}
    return {
        "case_id": latest["case_id"],
        "state": max(lifecycle, key=lambda m: m["seq"])["kind"],  # a verification does not change the state
        "verified": max(checks, key=lambda m: m["seq"])["body"].get("verification") if checks else None,
        "severity": latest["body"].get("severity"),
        "latest_seq": latest["seq"],
        "message_count": len(messages),
        "kinds": [m["kind"] for m in messages],
        "first_received_at": messages[0]["received_at"],
        "last_received_at": messages[-1]["received_at"],
        "latest": latest["body"],
        "pictures": sorted(urls.values()),
    }
