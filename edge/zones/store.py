"""Zones and rules as operators edit them: versioned, crash-safe, with history.

The config file seeds each camera's zones; once an operator edits them through the API, this
store holds the live set. Every save is a new version number (one counter for the worker; each
camera remembers the version that last changed it, and cases carry that number). A save writes
the whole snapshot to a temporary file, fsyncs it, renames it over the old file and fsyncs the
directory, so a crash at any point leaves the old or the new version on disk, never a mix. The
newest `keep` versions stay in `<name>.history/` for audit and rollback.

Which side wins at start (`adopt`): the stored zones, unless the config file's zones of that
camera changed since they were last adopted; then the file is the newer intent and becomes a
new version (the edited ones stay in the history).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.config import ConfigError, EdgeConfig, ZoneConfig
from edge.config.load import format_validation_error

log = logging.getLogger(__name__)

FORMAT = 1
DEFAULT_KEEP = 50


@dataclass(frozen=True, slots=True)
class CameraZones:
    """One camera's zones and the store version that last changed them."""

    version: int
    zones: tuple[ZoneConfig, ...]
    seed: str  # fingerprint of the config file's zones when they were last adopted


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """One saved version: every camera's zones."""

    version: int
    saved_at: float
    changed: tuple[str, ...]  # cameras whose zones this version changed
    note: str
    cameras: Mapping[str, CameraZones]


EMPTY = ZoneSnapshot(0, 0.0, (), "", {})


def fingerprint(zones: Sequence[ZoneConfig]) -> str:
    """Stable digest of a zone list, so an edit of the config file can be told from a restart."""
    text = json.dumps([z.model_dump(mode="json") for z in zones], sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def with_zones(config: EdgeConfig, zones: Mapping[str, Sequence[ZoneConfig]]) -> EdgeConfig:
    """`config` with the given cameras' zones replaced, re-validated as a whole.

    Raises pydantic's ValidationError when the zones don't fit the config (unknown event code or
    model, repeated ids): the same checks the config file gets.
    """
    data = config.model_dump()
    for camera in data["cameras"]:
        if camera["id"] in zones:
            camera["zones"] = [z.model_dump() for z in zones[camera["id"]]]
    return EdgeConfig.model_validate(data)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ZoneStore:
    """The zones file `path` plus its history folder; thread-safe; one writer process."""

    def __init__(self, path: Path | str, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.path = Path(path)
        self.history_dir = self.path.with_name(self.path.name + ".history")
        self.keep = keep
        self._lock = threading.Lock()
        for leftover in [*self.path.parent.glob(f".{self.path.name}.*.tmp"), *self.history_dir.glob(".*.tmp")]:
            leftover.unlink(missing_ok=True)  # a save that crashed before its rename
        self._current = self._read_current()

    # ------------------------------------------------------------------ reading
    def load(self) -> ZoneSnapshot:
        """The current version (version 0 with no cameras before the first save)."""
        with self._lock:
            return self._current

    def camera(self, camera_id: str) -> CameraZones | None:
        return self.load().cameras.get(camera_id)

    def history(self) -> list[ZoneSnapshot]:
        """Kept versions, newest first (the current one included)."""
        current = self.load().version
        out = []
        for path in sorted(self.history_dir.glob("*.json"), reverse=True):
            snapshot = self._read_or_none(path)
            if snapshot is not None and snapshot.version <= current:
                out.append(snapshot)
        return out

    def at(self, version: int) -> ZoneSnapshot | None:
        """One kept version, or None when it was never saved or has been pruned."""
        if version > self.load().version:
            return None
        return self._read_or_none(self._history_path(version))

    # ------------------------------------------------------------------ writing
    def save(self, camera_id: str, zones: Sequence[ZoneConfig], note: str = "") -> int:
        """Store a camera's new zones as a new version and return that version."""
        with self._lock:
            previous = self._current.cameras.get(camera_id)
            if previous is None:
                raise ConfigError(f"zone store {self.path}: camera {camera_id!r} is unknown; adopt the config first")
            return self._commit({camera_id: (tuple(zones), previous.seed)}, note)

    def adopt(self, config: EdgeConfig, *, dry_run: bool = False) -> tuple[EdgeConfig, dict[str, int]]:
        """The config with the live zones of every camera, and each camera's zone version.

        Cameras new to the store, or whose zones in the config file changed since they were last
        adopted, take the file's zones (saved as one new version); the others keep their stored,
        possibly operator-edited zones. `dry_run` writes nothing and returns what adopting would:
        a start checks everything with it first, so a start that fails leaves no zones behind.
        """
        with self._lock:
            stored = self._current.cameras
            changes = {}
            for camera in config.cameras:
                seed = fingerprint(camera.zones)
                known = stored.get(camera.id)
                if known is None or known.seed != seed:
                    if known is not None and not dry_run:
                        log.warning(
                            "zones in the config file changed; they replace the stored zones",
                            extra={"camera": camera.id, "replaced_version": known.version},
                        )
                    changes[camera.id] = (tuple(camera.zones), seed)
            if changes and not dry_run:
                self._commit(changes, "adopted from the config file")
                changes = {}
            cameras = dict(self._current.cameras)
            planned = self._current.version + 1
            cameras |= {cid: CameraZones(planned, zones, seed) for cid, (zones, seed) in changes.items()}
        live = {c.id: cameras[c.id].zones for c in config.cameras}
        try:
            adopted = with_zones(config, live)
        except ValidationError as exc:
            raise ConfigError(
                f"zone store {self.path}: the stored zones no longer fit the config:\n"
                f"{format_validation_error(exc)}\n"
                "fix the config, or move the zone store away to start from the config file's zones"
            ) from None
        return adopted, {c.id: cameras[c.id].version for c in config.cameras}

    def _commit(self, changes: Mapping[str, tuple[tuple[ZoneConfig, ...], str]], note: str) -> int:
        """Write a new version with `changes` applied (caller holds the lock)."""
        base = self._current
        version = base.version + 1
        cameras = dict(base.cameras)
        for camera_id, (zones, seed) in changes.items():
            cameras[camera_id] = CameraZones(version, zones, seed)
        snapshot = ZoneSnapshot(version, time.time(), tuple(sorted(changes)), note, cameras)
        data = json.dumps(_to_json(snapshot), ensure_ascii=False, indent=1, sort_keys=True).encode()
        try:
            self.history_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self._history_path(version), data)
            write_atomic(self.path, data)
        except OSError as exc:
            raise ConfigError(f"zone store {self.path} could not be written: {exc.strerror or exc}") from None
        self._current = snapshot
        for old in sorted(self.history_dir.glob("*.json"))[: -self.keep]:
            old.unlink(missing_ok=True)
        return version

    # ------------------------------------------------------------------ files
    def _history_path(self, version: int) -> Path:
        return self.history_dir / f"{version:08d}.json"

    def _read_current(self) -> ZoneSnapshot:
        """The current file; if it is unreadable, the newest intact history version (moved aside, never lost)."""
        if not self.path.exists() and not any(self.history_dir.glob("*.json")):
            return EMPTY
        try:
            return _read(self.path)
        except (OSError, ValueError) as exc:
            problem = str(exc)
        for path in sorted(self.history_dir.glob("*.json"), reverse=True):
            snapshot = self._read_or_none(path)
            if snapshot is not None:
                if self.path.exists():
                    aside = self.path.with_name(f"{self.path.name}.broken-{int(time.time())}")
                    os.replace(self.path, aside)
                write_atomic(self.path, path.read_bytes())
                log.warning(
                    "zone store unreadable; restored the newest kept version",
                    extra={"path": str(self.path), "problem": problem, "version": snapshot.version},
                )
                return snapshot
        raise ConfigError(f"zone store {self.path} is unreadable ({problem}) and has no intact history to restore")

    @staticmethod
    def _read_or_none(path: Path) -> ZoneSnapshot | None:
        try:
            return _read(path)
        except (OSError, ValueError):
            return None


def _to_json(snapshot: ZoneSnapshot) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": snapshot.version,
        "saved_at": snapshot.saved_at,
        "changed": list(snapshot.changed),
        "note": snapshot.note,
        "cameras": {
            camera_id: {
                "version": c.version,
                "seed": c.seed,
                "zones": [z.model_dump(mode="json") for z in c.zones],
            }
            for camera_id, c in snapshot.cameras.items()
        },
    }


def _read(path: Path) -> ZoneSnapshot:
    """Parse one snapshot file; ValueError names what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a zone store file of format {FORMAT}")
    try:
        cameras = {
            camera_id: CameraZones(
                int(entry["version"]),
                tuple(ZoneConfig.model_validate(z) for z in entry["zones"]),
                str(entry["seed"]),
            )
            for camera_id, entry in data["cameras"].items()
        }
        return ZoneSnapshot(
            int(data["version"]), float(data["saved_at"]), tuple(data["changed"]), str(data["note"]), cameras
        )
    except ValidationError as exc:
        raise ValueError(f"{path} holds an invalid zone:\n{format_validation_error(exc)}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is missing or mistypes a field: {exc!r}") from None
