"""What a camera's rules see, for the editor's live overlay: detections, candidates, open cases, scene.

Read from the pipeline's `LiveView` (taken under its lock), so boxes, timers and cases belong to
one analysed frame; the frame itself is `frame.jpg?analysed=true`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from fastapi import APIRouter, HTTPException, status

from edge.api.deps import WorkerView
from edge.api.errors import NOT_FOUND
from edge.api.routes.zones import CameraId
from edge.api.schemas import (
    DetectionOut,
    FrameInfo,
    LiveOut,
    OpenCaseOut,
    PlaceOut,
    RuleLive,
    SceneOut,
    StaticObjectOut,
    SuppressedOut,
    TamperOut,
    ZoneLive,
)
from edge.api.zoneedit import ZoneEditor
from edge.cases import RuleView
from edge.isotime import iso_utc
from edge.runtime.pipeline import LiveView
from edge.scene import SceneUpdate
from edge.types import Detections


def router(worker: WorkerView, editor: ZoneEditor) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["cameras"])

    @r.get("/cameras/{camera_id}/live", responses=NOT_FOUND)
    def live(camera_id: CameraId) -> LiveOut:
        """The latest analysed frame's detections (class, score, track id), each rule's places with their
        dwell so far and required, open cases, and the scene model's static objects and tamper state."""
        editor.camera(camera_id)
        view = worker.live_view(camera_id)
        if view is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"camera {camera_id!r} is not running or has not analysed a frame yet"
            )
        return live_out(view, time.time())

    return r


def live_out(view: LiveView, now: float) -> LiveOut:
    frame = view.frame
    return LiveOut(
        camera_id=frame.camera_id,
        zone_version=view.cases.zone_version,
        frame=FrameInfo(
            index=frame.index,
            media_time=round(frame.media_time, 3),
            age_s=round(max(0.0, now - frame.wall_time), 3),
            width=frame.width,
            height=frame.height,
        ),
        paused=view.paused,
        detections=[
            d for model_id, dets in view.detections.items() for d in _detections(model_id, dets, view.class_names)
        ],
        scene=None if view.scene is None else _scene(view.scene, view.class_names.get(view.scene_model or "", [])),
        zones=[
            ZoneLive(zone_id=z.zone_id, name=z.name, rules=[_rule(rule) for rule in z.rules]) for z in view.cases.zones
        ],
        suppressed=[
            SuppressedOut(
                id=s.id,
                zone_id=s.zone_id,
                rule_id=s.rule_id,
                label=s.label,
                box=_box(s.box),
                expires_at=iso_utc(s.expires),
            )
            for s in view.cases.suppressed
        ],
    )


def _box(xyxy: Sequence[float] | np.ndarray) -> list[float]:
    return [round(float(v), 1) for v in xyxy]


def _name(names: Sequence[str], class_id: int) -> str | None:
    return names[class_id] if 0 <= class_id < len(names) else None


def _detections(model_id: str, dets: Detections, class_names: dict[str, list[str]]) -> list[DetectionOut]:
    names = class_names.get(model_id, [])
    return [
        DetectionOut(
            model=model_id,
            class_name=_name(names, int(dets.class_id[i])) or str(int(dets.class_id[i])),
            score=round(float(dets.confidence[i]), 3),
            track_id=int(dets.tracker_id[i]) if dets.tracker_id[i] >= 0 else None,
            box=_box(dets.xyxy[i]),
        )
        for i in range(len(dets.xyxy))
    ]


def _scene(scene: SceneUpdate, names: Sequence[str]) -> SceneOut:
    objects = scene.static_objects
    tamper = scene.tamper
    return SceneOut(
        learning=scene.learning,
        tamper=TamperOut(kind=tamper.kind, since=tamper.since, detail=tamper.detail),
        static_objects=[
            StaticObjectOut(
                object_id=int(objects.tracker_id[i]),
                class_name=_name(names, int(objects.class_id[i])),
                box=_box(objects.xyxy[i]),
                first_seen_media_s=round(float(objects.data["first_seen"][i]), 3),
                area_fraction=round(float(objects.data["area_fraction"][i]), 4),
                changed=round(float(objects.confidence[i]), 3),
            )
            for i in range(len(objects.xyxy))
        ],
    )


def _rule(rule: RuleView) -> RuleLive:
    return RuleLive(
        rule_id=rule.rule_id,
        kind=rule.kind,
        event_code=rule.event_code,
        active=rule.active,
        min_duration_s=rule.min_duration_s,
        places=[
            PlaceOut(
                key=p.key,
                phase=p.phase,
                label=p.label,
                box=_box(p.box),
                dwell_s=p.dwell_s,
                required_s=rule.min_duration_s,
                absent_s=p.absent_s,
                case_id=p.case_id,
            )
            for p in rule.places
        ],
        open_cases=[
            OpenCaseOut(
                case_id=c.case_id,
                phase=c.phase.value,
                seq=c.seq,
                label=c.label,
                score=round(c.score, 3),
                box=_box(c.box),
                first_seen_media_s=round(c.first_media, 3),
                confirmed_media_s=round(c.confirmed_media, 3),
                repeat_count=c.repeat_count,
            )
            for c in rule.open_cases
        ],
    )
