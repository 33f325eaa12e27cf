"""Cameras with their health, the latest frame as a JPEG, and the catalog rules refer to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND, Responses
from edge.api.render import frame_jpeg
from edge.api.routes.zones import CameraId
from edge.api.schemas import CameraHealthOut, CameraOut, Catalog, ModelInfo, status_json
from edge.api.zoneedit import ZoneEditor
from edge.config import CameraConfig
from edge.config.zones import RuleKind
from edge.runtime.worker import CameraStatus

JPEG: Responses = {200: {"content": {"image/jpeg": {}}, "description": "JPEG picture"}}


class FrameQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: bool = Field(default=True, description="draw the camera's zones on the frame")
    analysed: bool = Field(
        default=False, description="the frame the rules last saw (that of /live), not the newest decoded one"
    )


def router(worker: WorkerView, editor: ZoneEditor) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["cameras"])

    def describe(camera: CameraConfig, health: dict[str, CameraStatus]) -> CameraOut:
        saved = editor.zones(camera.id)
        entry = health.get(camera.id)
        return CameraOut(
            id=camera.id,
            name=camera.name,
            enabled=camera.enabled,
            zone_version=saved.version,
            zones=len(saved.zones),
            health=None if entry is None else CameraHealthOut.model_validate(status_json(entry)),
        )

    @r.get("/cameras")
    def list_cameras() -> list[CameraOut]:
        """Every configured camera with its zone version and stream health."""
        health = worker.camera_health()
        return [describe(c, health) for c in worker.config.cameras]

    @r.get("/cameras/{camera_id}", responses=NOT_FOUND)
    def get_camera(camera_id: CameraId) -> CameraOut:
        return describe(editor.camera(camera_id), worker.camera_health())

    @r.get("/cameras/{camera_id}/frame.jpg", response_class=Response, responses={**JPEG, **NOT_FOUND})
    async def latest_frame(camera_id: CameraId, query: Annotated[FrameQuery, Query()]) -> Response:
        """The newest frame the camera delivered (or, with `analysed`, the one its rules last saw)."""
        editor.camera(camera_id)
        if query.analysed:
            view = worker.live_view(camera_id)
            frame = None if view is None else view.frame
        else:
            frame = worker.latest_frame(camera_id)
        if frame is None:
            done = "analysed" if query.analysed else "delivered"
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"camera {camera_id!r} has not {done} a frame yet")
        drawn = editor.zones(camera_id).zones if query.zones else ()
        jpeg = await run_in_threadpool(frame_jpeg, frame.image, drawn)
        headers = {
            "X-Frame-Width": str(frame.width),
            "X-Frame-Height": str(frame.height),
            "X-Frame-Index": str(frame.index),
            "X-Media-Time": f"{frame.media_time:.3f}",
        }
        return Response(jpeg, media_type="image/jpeg", headers=headers)

    @r.post(
        "/cameras/{camera_id}/scene/rebase",
        status_code=status.HTTP_202_ACCEPTED,
        responses={**NOT_FOUND, 409: {"description": "the camera has no running scene model"}},
    )
    def rebase_scene(camera_id: CameraId) -> dict[str, str]:
        """Take the camera's current view as its reference: after a deliberate re-aim, this ends the
        "moved" fault and resumes its zones. Applied at the camera's next analysed frame."""
        editor.camera(camera_id)
        if not worker.rebase_scene(camera_id):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"camera {camera_id!r} has no running scene model (scene.enabled is false or the camera is disabled)",
            )
        return {"camera_id": camera_id, "status": "rebase requested"}

    @r.get("/catalog")
    def catalog() -> Catalog:
        """Event codes, models with their classes, and rule kinds: what a rule may name."""
        models = []
        for model in worker.config.models:
            detector = worker.detectors.get(model.id)
            names = list(detector.class_names) if detector is not None else []
            models.append(ModelInfo(id=model.id, loaded=detector is not None, classes=names))
        return Catalog(events=list(worker.config.events), models=models, rule_kinds=[kind.value for kind in RuleKind])

    return r
