"""Editing one camera's zones: check the change against the running worker, persist it, apply it.

Every edit runs under one lock, in this order: compare the client's version (`If-Match`), apply
the edit to the stored zones, validate the result exactly as the worker will compile it (the
config's cross-checks, then `compile_rule` against the loaded models' classes), save it as a new
ZoneStore version, hand it to the running camera. A change that fails any check is not saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import HTTPException, status
from pydantic import ValidationError

from edge.api.deps import WorkerView
from edge.api.errors import Problem, UnprocessableError, validation_problems
from edge.cases import check_rule
from edge.config import CameraConfig, ConfigError, EdgeConfig, RuleKind, ZoneConfig
from edge.infer import ModelError
from edge.zones.store import CameraZones, ZoneStore, with_zones

Edit = Callable[[list[ZoneConfig]], list[ZoneConfig]]


@dataclass(frozen=True, slots=True)
class Focus:
    """Which part of the new zones the request body is, so problems point into the body."""

    zone_id: str
    rule_id: str | None = None


def not_found(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail)


class ZoneEditor:
    """Serialised read-modify-validate-save-apply of camera zones."""

    def __init__(self, worker: WorkerView, store: ZoneStore) -> None:
        self.worker = worker
        self.store = store
        self._lock = threading.Lock()
        missing = [c.id for c in worker.config.cameras if store.camera(c.id) is None]
        if missing:
            raise ConfigError(
                f"zone store {store.path} does not know cameras {missing}: call ZoneStore.adopt(config) at start"
            )

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.worker.config.cameras:
            if camera.id == camera_id:
                return camera
        known = [c.id for c in self.worker.config.cameras]
        raise not_found(f"no camera {camera_id!r}; cameras: {known}")

    def zones(self, camera_id: str) -> CameraZones:
        self.camera(camera_id)
        stored = self.store.camera(camera_id)
        assert stored is not None  # every configured camera was checked at start
        return stored

    def change(self, camera_id: str, edit: Edit, if_match: str | None, focus: Focus | None, note: str) -> CameraZones:
        """Apply `edit` to the camera's zones; returns them as saved (raises 404/409/412/422)."""
        with self._lock:
            current = self.zones(camera_id)
            _check_version(camera_id, current.version, if_match)
            zones = edit(list(current.zones))
            config = self._validated(camera_id, zones, focus)
            camera = config.camera(camera_id)
            try:
                self.worker.prepare_camera(camera)
            except ModelError as exc:
                raise UnprocessableError([Problem(loc=["body"], msg=str(exc))]) from None
            version = self.store.save(camera_id, camera.zones, note)
            if camera.enabled:
                self.worker.apply_camera(camera, version)
            return self.zones(camera_id)

    def _validated(self, camera_id: str, zones: Sequence[ZoneConfig], focus: Focus | None) -> EdgeConfig:
        try:
            config = with_zones(self.worker.config, {camera_id: zones})
        except ValidationError as exc:
            raise UnprocessableError(validation_problems(exc, ("body",))) from None
        problems = []
        events = {e.code: e for e in config.events}
        loaded = {model_id: list(d.class_names) for model_id, d in self.worker.detectors.items()}
        for placed in config.camera(camera_id).rules():
            zone, rule = placed.zone, placed.rule
            loc = _locate(focus, zone.id, zone.rules.index(rule))  # rule ids are unique within a zone
            if rule.kind != RuleKind.STATIC_OBJECT and rule.model not in loaded:
                problems.append(
                    Problem(
                        loc=[*loc, "model"],
                        msg=f"model {rule.model!r} is configured but not loaded by the running worker "
                        f"(loaded: {sorted(loaded)}); it loads the models its rules use at start: "
                        "restart the worker to use another model",
                    )
                )
                continue
            try:
                check_rule(camera_id, zone, rule, events, loaded)
            except ConfigError as exc:
                problems.append(Problem(loc=loc, msg=str(exc)))
        if problems:
            raise UnprocessableError(problems)
        return config


def _locate(focus: Focus | None, zone_id: str, index: int) -> list[str | int]:
    """A problem in a rule of the zone that is the request body points at that rule."""
    if focus is not None and focus.zone_id == zone_id and focus.rule_id is None:
        return ["body", "rules", index]
    return ["body"]


def _check_version(camera_id: str, version: int, if_match: str | None) -> None:
    """Optimistic concurrency: an editor that loaded version N may only replace version N."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = if_match.strip().removeprefix("W/").strip('"')
    if wanted != str(version):
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f"zones of camera {camera_id!r} are now at version {version}, not {if_match.strip()}: "
            "someone else saved a change; reload them and redo yours",
        )
