"""Keeping the outbox within its bounds: `max_mb`, and the free disk of its folder.

Delivered items are pruned oldest-first (down to a small tombstone, so a message handed over again
after a crash is still recognised and not sent twice); when pending items alone exceed the bound,
pending messages lose their evidence clips first, then keep their record and first picture while
the others are dropped ("thinned"), oldest first. Cases are never dropped.
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np

from edge.delivery.disk import DiskLevel
from edge.delivery.outbox_db import DONE, OutboxDb, tombstone

log = logging.getLogger(__name__)

TOMBSTONE_KEEP_S = 7 * 86400.0  # a crashed case stage hands its messages over again within minutes, not weeks
_CLIPS = "idx > 0 AND (name LIKE '%.mp4' OR name LIKE '%.mov')"  # evidence clips (never a message's first file)


def over_budget(store: OutboxDb, max_bytes: int) -> bool:
    return store.stored_bytes() > max_bytes or store.disk.refresh() != DiskLevel.OK


def enforce_bounds(store: OutboxDb, max_bytes: int) -> None:
    """Prune delivered items oldest-first, then thin pending pictures, until within bounds."""
    low_disk = store.disk.refresh() != DiskLevel.OK
    excess = store.stored_bytes() - max_bytes
    if low_disk or excess > 0:
        _prune_done(store, None if low_disk else excess)
    excess = store.stored_bytes() - max_bytes
    low_disk = store.disk.refresh() != DiskLevel.OK
    if excess > 0 or low_disk:
        _thin_pending(store, None if low_disk else excess, _CLIPS)  # clips go before pictures
    excess = store.stored_bytes() - max_bytes
    if excess > 0 or low_disk:
        _thin_pending(store, None if low_disk else excess)


def _oldest_covering(rows: list[tuple[int, int]], excess: int | None) -> tuple[list[int], int]:
    """The ids of the oldest `(id, bytes)` rows whose sizes add up to `excess` (all with None), and their bytes."""
    ids, sizes = np.array(rows, dtype=np.int64).T
    last = len(ids) - 1 if excess is None else min(int(np.searchsorted(np.cumsum(sizes), excess)), len(ids) - 1)
    return [int(i) for i in ids[: last + 1]], int(sizes[: last + 1].sum())


def _prune_done(store: OutboxDb, excess: int | None) -> None:
    """Prune finished items oldest-first to tombstones until `excess` bytes are gone (all with None).

    A tombstone keeps the message id and state, so a message the case stage hands over again
    (its own acknowledgement was lost in a crash) is recognised by `put` instead of sent twice."""
    with store.lock:
        rows = store.db.execute(
            f"SELECT id, bytes FROM messages WHERE state IN {DONE} AND bytes > 0 ORDER BY id"
        ).fetchall()
    if not rows:
        return
    chosen, freed = _oldest_covering(rows, excess)
    with store.transaction() as db:
        tombstone(db, chosen)
        db.execute(
            f"DELETE FROM messages WHERE state IN {DONE} AND bytes = 0 AND COALESCE(delivered_at, created_at) < ?",
            (time.time() - TOMBSTONE_KEEP_S,),
        )
    log.info("outbox: pruned %d delivered items (%d bytes)", len(chosen), freed)
    store.reclaim()


def _thin_pending(store: OutboxDb, excess: int | None, which: str = "idx > 0") -> None:
    """Drop the `which` pictures (default: all but the first) of pending messages, oldest first."""
    with store.lock:
        rows = store.db.execute(
            f"SELECT message, SUM(LENGTH(data)) FROM pictures WHERE {which} AND message IN"
            " (SELECT id FROM messages WHERE state IN ('pending', 'dead')) GROUP BY message ORDER BY message"
        ).fetchall()
    if not rows:
        return
    chosen, _ = _oldest_covering(rows, excess)
    with store.transaction() as db:
        for pk in chosen:
            names = [n for (n,) in db.execute(f"SELECT name FROM pictures WHERE message = ? AND {which}", (pk,))]
            (thinned,) = db.execute("SELECT thinned FROM messages WHERE id = ?", (pk,)).fetchone()
            freed = db.execute(
                f"SELECT SUM(LENGTH(data)) FROM pictures WHERE message = ? AND {which}", (pk,)
            ).fetchone()[0]
            db.execute(f"DELETE FROM pictures WHERE message = ? AND {which}", (pk,))
            db.execute(
                "UPDATE messages SET thinned = ?, bytes = bytes - ? WHERE id = ?",
                (json.dumps(json.loads(thinned) + names), freed, pk),
            )
    log.warning("outbox over its bounds: thinned pictures of %d pending messages", len(chosen))
    store.reclaim()
