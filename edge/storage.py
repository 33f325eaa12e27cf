"""What every SQLite file of the box (outbox, case state) needs to know about its disk."""

from __future__ import annotations

import sqlite3


def out_of_space(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL, or an I/O error (what SQLite reports when its -shm or WAL file cannot grow)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
