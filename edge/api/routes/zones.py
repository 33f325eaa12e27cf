"""Zones and their rules per camera: list, create, replace, delete. Every change is hot-applied.

Mutations accept `If-Match: "<version>"` (the `ETag` of the list): a change based on an older
version is refused with 412 instead of silently overwriting another operator's edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ValidationError

from edge.api.errors import (
    INVALID,
    NOT_FOUND,
    Message,
    Problem,
    Responses,
    UnprocessableError,
    validation_problems,
)
from edge.api.schemas import Applied, RuleList, RuleOut, ZoneList, ZoneOut, ZoneVersion
from edge.api.zoneedit import Edit, Focus, ZoneEditor, not_found
from edge.config import RuleConfig, ZoneConfig
from edge.zones.store import CameraZones

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
CameraId = Annotated[str, Path(pattern=ID_PATTERN, description="camera id")]
ZoneId = Annotated[str, Path(pattern=ID_PATTERN, description="zone id")]
RuleId = Annotated[str, Path(pattern=ID_PATTERN, description="rule id")]
IfMatch = Annotated[
    str | None, Header(max_length=64, description='zone version the change is based on, e.g. "7"; * for any')
]
ZONE_EXAMPLE = {
    "id": "no-parking-gate",
    "name": "No parking by the gate",
    "polygon": [[0.8, 0.04], [1.0, 0.04], [1.0, 0.26], [0.8, 0.26]],
    "rules": [
        {
            "id": "parked-vehicle",
            "kind": "dwell",
            "event_code": "0505",
            "classes": ["car", "truck", "bus"],
            "min_duration_s": 120,
            "schedule": {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:00", "end": "19:00"}]},
        }
    ],
}
ZoneBody = Annotated[
    ZoneConfig, Body(openapi_examples={"no-parking": {"summary": "weekday no-parking zone", "value": ZONE_EXAMPLE}})
]
RuleBody = Annotated[
    RuleConfig,
    Body(
        openapi_examples={
            "vendor": {
                "summary": "street vendor",
                "value": {"id": "vendor", "event_code": "0501", "classes": ["person"], "min_duration_s": 300},
            }
        }
    ),
]
CONFLICT: Responses = {409: {"model": Message, "description": "the id is taken"}}
STALE: Responses = {412: {"model": Message, "description": "the zones changed since the version given in If-Match"}}
UNREADABLE: Responses = {400: {"model": Message, "description": "the body is not readable JSON"}}
CHANGE_ERRORS: Responses = {**UNREADABLE, **NOT_FOUND, **INVALID, **STALE}


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def strict_body(model: type[BaseModel]) -> Any:
    """A dependency that re-reads the JSON body in pydantic's strict mode.

    FastAPI parses bodies leniently (`0` becomes `false`, `"5"` becomes 5); an operator's typo in a
    rule should be a 422 that names the field, not a silently different rule.
    """

    async def check(request: Request) -> None:
        try:
            model.model_validate_json(await request.body(), strict=True)
        except ValidationError as exc:
            raise UnprocessableError(validation_problems(exc)) from None

    return Depends(check)


def _index(items: Sequence[_HasId], item_id: str, what: str) -> int:
    for i, item in enumerate(items):
        if item.id == item_id:
            return i
    raise not_found(f"no {what} {item_id!r}; there are: {[x.id for x in items]}")


def _same_id(kind: str, body_id: str, path_id: str) -> None:
    if body_id != path_id:
        problem = Problem(loc=["body", "id"], msg=f"{kind} id {body_id!r} differs from the URL's {path_id!r}")
        raise UnprocessableError([problem])


def _taken(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail)


def _zone(saved: CameraZones, zone_id: str) -> ZoneConfig:
    return saved.zones[_index(saved.zones, zone_id, "zone")]


def _rule(saved: CameraZones, camera_id: str, zone_id: str, rule_id: str) -> RuleOut:
    rules = _zone(saved, zone_id).rules
    rule = rules[_index(rules, rule_id, "rule")]
    return RuleOut(camera_id=camera_id, zone_id=zone_id, version=saved.version, rule=rule)


def router(editor: ZoneEditor) -> APIRouter:
    r = APIRouter(prefix="/api/cameras/{camera_id}", tags=["zones"])
    strict_zone, strict_rule = strict_body(ZoneConfig), strict_body(RuleConfig)

    def answer(response: Response, saved: CameraZones) -> CameraZones:
        response.headers["ETag"] = f'"{saved.version}"'
        return saved

    # ------------------------------------------------------------------ zones
    @r.get("/zones", responses=NOT_FOUND)
    def list_zones(camera_id: CameraId, response: Response) -> ZoneList:
        """The camera's zones with their rules, and the version they were saved as (also the ETag)."""
        saved = answer(response, editor.zones(camera_id))
        return ZoneList(camera_id=camera_id, version=saved.version, zones=list(saved.zones))

    @r.post("/zones", status_code=201, responses={**CHANGE_ERRORS, **CONFLICT}, dependencies=[strict_zone])
    def create_zone(camera_id: CameraId, zone: ZoneBody, response: Response, if_match: IfMatch = None) -> ZoneOut:
        """Add a zone; it applies from the camera's next analysed frame."""

        def add(zones: list[ZoneConfig]) -> list[ZoneConfig]:
            if any(z.id == zone.id for z in zones):
                raise _taken(f"camera {camera_id!r} already has a zone {zone.id!r}")
            return [*zones, zone]

        saved = answer(response, editor.change(camera_id, add, if_match, Focus(zone.id), f"zone {zone.id} created"))
        return ZoneOut(camera_id=camera_id, version=saved.version, zone=_zone(saved, zone.id))

    @r.get("/zones/{zone_id}", responses=NOT_FOUND)
    def get_zone(camera_id: CameraId, zone_id: ZoneId, response: Response) -> ZoneOut:
        saved = answer(response, editor.zones(camera_id))
        return ZoneOut(camera_id=camera_id, version=saved.version, zone=_zone(saved, zone_id))

    @r.put("/zones/{zone_id}", responses=CHANGE_ERRORS, dependencies=[strict_zone])
    def replace_zone(
        camera_id: CameraId, zone_id: ZoneId, zone: ZoneBody, response: Response, if_match: IfMatch = None
    ) -> ZoneOut:
        """Replace a zone (polygon, name and rules); unchanged rules keep their timers and open cases."""
        _same_id("zone", zone.id, zone_id)

        def replace(zones: list[ZoneConfig]) -> list[ZoneConfig]:
            zones[_index(zones, zone_id, "zone")] = zone
            return zones

        saved = answer(
            response, editor.change(camera_id, replace, if_match, Focus(zone_id), f"zone {zone_id} replaced")
        )
        return ZoneOut(camera_id=camera_id, version=saved.version, zone=_zone(saved, zone_id))

    @r.delete("/zones/{zone_id}", responses={**NOT_FOUND, **STALE})
    def delete_zone(camera_id: CameraId, zone_id: ZoneId, response: Response, if_match: IfMatch = None) -> Applied:
        """Remove a zone; the open cases of its rules are cleared at the next frame."""

        def remove(zones: list[ZoneConfig]) -> list[ZoneConfig]:
            del zones[_index(zones, zone_id, "zone")]
            return zones

        saved = answer(response, editor.change(camera_id, remove, if_match, None, f"zone {zone_id} deleted"))
        return Applied(camera_id=camera_id, version=saved.version)

    @r.get("/zone-history", responses=NOT_FOUND)
    def zone_history(camera_id: CameraId) -> list[ZoneVersion]:
        """Kept versions that changed this camera's zones, newest first."""
        editor.camera(camera_id)
        return [
            ZoneVersion(version=s.version, saved_at=s.saved_at, note=s.note, zones=list(s.cameras[camera_id].zones))
            for s in editor.store.history()
            if camera_id in s.changed
        ]

    # ------------------------------------------------------------------ rules
    @r.get("/zones/{zone_id}/rules", responses=NOT_FOUND)
    def list_rules(camera_id: CameraId, zone_id: ZoneId, response: Response) -> RuleList:
        saved = answer(response, editor.zones(camera_id))
        rules = _zone(saved, zone_id).rules
        return RuleList(camera_id=camera_id, zone_id=zone_id, version=saved.version, rules=rules)

    @r.post(
        "/zones/{zone_id}/rules", status_code=201, responses={**CHANGE_ERRORS, **CONFLICT}, dependencies=[strict_rule]
    )
    def create_rule(
        camera_id: CameraId, zone_id: ZoneId, rule: RuleBody, response: Response, if_match: IfMatch = None
    ) -> RuleOut:
        """Add a rule to a zone; it applies from the camera's next analysed frame."""

        def add(rules: list[RuleConfig]) -> list[RuleConfig]:
            if any(x.id == rule.id for x in rules):
                raise _taken(f"zone {zone_id!r} already has a rule {rule.id!r}")
            return [*rules, rule]

        change = _rules_edit(zone_id, add)
        note = f"rule {zone_id}/{rule.id} created"
        saved = answer(response, editor.change(camera_id, change, if_match, Focus(zone_id, rule.id), note))
        return _rule(saved, camera_id, zone_id, rule.id)

    @r.get("/zones/{zone_id}/rules/{rule_id}", responses=NOT_FOUND)
    def get_rule(camera_id: CameraId, zone_id: ZoneId, rule_id: RuleId, response: Response) -> RuleOut:
        return _rule(answer(response, editor.zones(camera_id)), camera_id, zone_id, rule_id)

    @r.put("/zones/{zone_id}/rules/{rule_id}", responses=CHANGE_ERRORS, dependencies=[strict_rule])
    def replace_rule(
        camera_id: CameraId,
        zone_id: ZoneId,
        rule_id: RuleId,
        rule: RuleBody,
        response: Response,
        if_match: IfMatch = None,
    ) -> RuleOut:
        """Replace a rule; its candidate timers restart, its open cases stay until cleared."""
        _same_id("rule", rule.id, rule_id)

        def replace(rules: list[RuleConfig]) -> list[RuleConfig]:
            rules[_index(rules, rule_id, "rule")] = rule
            return rules

        change = _rules_edit(zone_id, replace)
        note = f"rule {zone_id}/{rule_id} replaced"
        saved = answer(response, editor.change(camera_id, change, if_match, Focus(zone_id, rule_id), note))
        return _rule(saved, camera_id, zone_id, rule_id)

    @r.delete("/zones/{zone_id}/rules/{rule_id}", responses={**NOT_FOUND, **STALE})
    def delete_rule(
        camera_id: CameraId, zone_id: ZoneId, rule_id: RuleId, response: Response, if_match: IfMatch = None
    ) -> Applied:
        """Remove a rule; its open cases are cleared at the next frame."""

        def remove(rules: list[RuleConfig]) -> list[RuleConfig]:
            del rules[_index(rules, rule_id, "rule")]
            return rules

        note = f"rule {zone_id}/{rule_id} deleted"
        saved = answer(response, editor.change(camera_id, _rules_edit(zone_id, remove), if_match, None, note))
        return Applied(camera_id=camera_id, version=saved.version)

    return r


def _rules_edit(zone_id: str, edit: Callable[[list[RuleConfig]], list[RuleConfig]]) -> Edit:
    """A zones edit that applies `edit` to the rules of one zone."""

    def change(zones: list[ZoneConfig]) -> list[ZoneConfig]:
        i = _index(zones, zone_id, "zone")
        zones[i] = zones[i].model_copy(update={"rules": edit(list(zones[i].rules))})
        return zones

    return change
