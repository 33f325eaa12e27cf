"""Disk pressure as a state: free space under the storage folder decides how much the worker may write.

A full disk must never cost a case or repeat one. So before the disk is full, the worker gives up
the least valuable writes first, in this order, as free space falls under each watermark:

    ok           everything is stored
    thin         (< thin_mb)        new messages keep their first picture only; delivered items are pruned
    no_pictures  (< no_pictures_mb) new messages are stored without pictures
    paused       (< pause_mb)       no new cases: the pipeline skips its rules (its state stands still),
                                    while acknowledgements and retries go on
    full         a write failed for space, or under FULL_MB free: as paused, and named as what it is

Each level is left only when free space is `HYSTERESIS` above its watermark, so a disk hovering
at a watermark does not flap. `full` does not depend on the watermarks (all of them may be 0): it
comes from what the disk did, and is left once `FULL_MARGIN_MB` more than at the failure is free.

A small reserve file is held while the disk is healthy and given up only when an acknowledgement
cannot be written, so "the platform has it" can always be recorded and an acknowledged message is
never sent again because the disk was full. Its space counts as taken whether the file is held or
given up: the space it frees is for acknowledgements, never a reason to store new cases again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from edge.config.delivery import StorageConfig, free_watermarks_mb

log = logging.getLogger(__name__)

RESERVE_FILE = "disk-reserve"
HYSTERESIS = 1.1  # a level is left once free space is 10 % above its watermark
# under this much usable space the disk counts as full, whatever the watermarks say: not one evidence
# picture (`evidence_max_kb`, 300 KB by default) would fit with its record
FULL_MB = 0.5
FULL_MARGIN_MB = 1.0  # after a write failed for space: usable space to come back before leaving `full`
MB = 2**20


class DiskLevel(StrEnum):
    OK = "ok"
    THIN = "thin"
    NO_PICTURES = "no_pictures"
    PAUSED = "paused"
    FULL = "full"

    @property
    def accepts_cases(self) -> bool:
        """Whether the pipeline may run its rules (store new case state) at this level."""
        return self not in (DiskLevel.PAUSED, DiskLevel.FULL)


_ORDER = list(DiskLevel)  # from healthy to worst


@dataclass(frozen=True, slots=True)
class Watermarks:
    """Free-space thresholds in MB, from the highest (thin) to the lowest (pause)."""

    thin_mb: float = 500.0
    no_pictures_mb: float = 200.0
    pause_mb: float = 100.0
    reserve_mb: float = 0.0

    def __post_init__(self) -> None:
        if not self.thin_mb >= self.no_pictures_mb >= self.pause_mb >= 0 or self.reserve_mb < 0:
            raise ValueError(f"watermarks must be thin >= no_pictures >= pause >= 0 and reserve >= 0, got {self}")

    @classmethod
    def below(cls, thin_mb: float) -> Watermarks:
        """Only the thinning watermark given: the others derived from it, no reserve."""
        return cls(*free_watermarks_mb(thin_mb))

    @classmethod
    def from_storage(cls, storage: StorageConfig, *, reserve: bool = True) -> Watermarks:
        """The worker's watermarks; operator tools pass `reserve=False` (they must not take disk)."""
        return cls(*storage.free_watermarks_mb(), storage.reserve_mb if reserve else 0.0)

    def mark(self, level: DiskLevel) -> float:
        """The free MB under which `level` begins (OK has none)."""
        return {
            DiskLevel.OK: float("inf"),
            DiskLevel.THIN: self.thin_mb,
            DiskLevel.NO_PICTURES: self.no_pictures_mb,
            DiskLevel.PAUSED: self.pause_mb,
            DiskLevel.FULL: FULL_MB,
        }[level]


@dataclass(frozen=True, slots=True)
class DiskStatus:
    level: DiskLevel
    free_mb: float
    since: float | None  # time.time() of the last change of level; None while it never changed
    reserve_mb: float  # reserve currently held on disk (0 once given up for acknowledgements)


def level_for(free_mb: float, marks: Watermarks, margin: float = 1.0) -> DiskLevel:
    """The worst level whose watermark (times `margin`) free space is under."""
    level = DiskLevel.OK
    for candidate in _ORDER[1:]:
        if free_mb < marks.mark(candidate) * margin:
            level = candidate
    return level


class DiskGuard:
    """Measures free space in `folder` on every question (one statvfs: microseconds); thread-safe."""

    def __init__(self, folder: Path, marks: Watermarks) -> None:
        self.folder = Path(folder)
        self.marks = marks
        self._lock = threading.Lock()
        self._level = DiskLevel.OK
        self._since: float | None = None
        self._full_until_mb: float | None = None  # after a write failed for space: usable MB to leave `full`
        self._reserve = self.folder / RESERVE_FILE
        self.refresh()

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.folder).free

    def usable_mb(self) -> float:
        """Free space less the reserve's share when the reserve is not on disk (given up, or not made yet)."""
        free_mb = self.free_bytes() / MB
        return free_mb if self._reserve.exists() else free_mb - self.marks.reserve_mb

    def note_no_space(self, what: str) -> None:
        """A write failed for space (SQLite's "database or disk is full"): the disk is full, whatever
        the watermarks say, until `FULL_MARGIN_MB` more is usable than now."""
        usable = self.usable_mb()
        with self._lock:
            first = self._full_until_mb is None
            self._full_until_mb = max(usable, 0.0) + FULL_MARGIN_MB
        if first:
            log.error("disk full under %s: %s could not be written (%.1f MB usable)", self.folder, what, usable)
        self.refresh()

    def refresh(self) -> DiskLevel:
        """Measure, move between levels (logging each change) and re-create the reserve when healthy."""
        free_mb = self.usable_mb()
        with self._lock:
            old = self._level
            if self._full_until_mb is not None and free_mb >= self._full_until_mb:
                self._full_until_mb = None
            worse = DiskLevel.FULL if self._full_until_mb is not None else level_for(free_mb, self.marks)
            better = level_for(free_mb, self.marks, HYSTERESIS)
            new = worse if _ORDER.index(worse) > _ORDER.index(old) else min(old, better, key=_ORDER.index)
            if new != old:
                self._level, self._since = new, time.time()
        if new != old:
            log.log(
                logging.WARNING if _ORDER.index(new) > _ORDER.index(old) else logging.INFO,
                "disk pressure %s -> %s: %.1f MB free under %s (%s)",
                old.value,
                new.value,
                free_mb,
                self.folder,
                describe(new),
            )
        if new == DiskLevel.OK:
            self._hold_reserve(free_mb)
        return new

    @property
    def level(self) -> DiskLevel:
        with self._lock:
            return self._level

    def may_open_cases(self) -> bool:
        """Whether the pipeline may run its rules now (False while the disk is nearly or really full)."""
        return self.refresh().accepts_cases

    def picture_allowance(self) -> int | None:
        """How many pictures a new message may keep: None (all), 1 (thin) or 0."""
        level = self.refresh()
        return None if level == DiskLevel.OK else 1 if level == DiskLevel.THIN else 0

    def status(self) -> DiskStatus:
        level = self.refresh()
        with self._lock:
            since = self._since
        held = self._reserve.stat().st_size / MB if self._reserve.exists() else 0.0
        return DiskStatus(level, self.free_bytes() / MB, since, held)

    def release_reserve(self) -> bool:
        """Give the reserve back to the file system; True when there was one to give."""
        try:
            self._reserve.unlink()
        except FileNotFoundError:
            return False
        log.error("disk full: released the %g MB reserve so acknowledgements can be recorded", self.marks.reserve_mb)
        return True

    def _hold_reserve(self, usable_mb: float) -> None:
        """`usable_mb` already counts the reserve as taken: it is what stays free once the file is made."""
        size = int(self.marks.reserve_mb * MB)
        if not size or self._reserve.exists() or usable_mb < self.marks.thin_mb:
            return
        try:
            fd = os.open(self._reserve, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another thread created it just now
        try:
            os.posix_fallocate(fd, 0, size)  # real blocks, not a sparse file
        except OSError as exc:
            log.warning("cannot hold a %g MB disk reserve in %s: %s", self.marks.reserve_mb, self.folder, exc)
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                self._reserve.unlink()
            return
        os.close(fd)


def describe(level: DiskLevel) -> str:
    return {
        DiskLevel.OK: "everything is stored",
        DiskLevel.THIN: "new messages keep their first picture only",
        DiskLevel.NO_PICTURES: "new messages are stored without pictures",
        DiskLevel.PAUSED: "no new cases until space returns; deliveries go on",
        DiskLevel.FULL: "the disk is full: no new cases until space returns; deliveries go on",
    }[level]
