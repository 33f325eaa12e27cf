"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from edge.api.deps import WorkerView
from edge.api.schemas import Liveness, Readiness, StagesOut
from edge.i18n import negotiate, translate
from edge.runtime.box_status import stages_json


def liveness_router() -> APIRouter:
    r = APIRouter(tags=["health"])

    @r.get("/healthz")
    def healthz() -> Liveness:
        """The API answers: the process is alive (for container health checks)."""
        return Liveness(status="ok")

    return r


def router(worker: WorkerView, registry: CollectorRegistry) -> APIRouter:
    r = APIRouter(tags=["health"])

    @r.get(
        "/readyz",
        responses={
            503: {
                "model": Readiness,
                "description": "not ready (starting, stopping, disk (nearly) full, a stage past its restart budget)",
            }
        },
    )
    def readyz(response: Response, accept_language: str | None = Header(None)) -> Readiness:
        """Ready while the worker's stages run and it can open cases; 503 while it starts or stops,
        while disk pressure pauses new cases or the disk is full (deliveries go on), or while a stage
        is left down past its restart budget (named in `stages`)."""
        stages = StagesOut(**stages_json(worker.supervision()))
        lang = negotiate(accept_language)
        response.headers["Vary"] = "Accept-Language"
        stages.details = [translate(line, lang) for line in stages.details]
        cameras = {camera_id: str(status.health.state) for camera_id, status in worker.camera_health().items()}
        disk = worker.outbox.disk.status()
        accepting = disk.level.accepts_cases
        ready = worker.ready and accepting
        if not ready:
            response.status_code = 503
        patrol = worker.patrol_status()
        return Readiness(
            ready=ready,
            cameras=cameras,
            disk_state=disk.level.value,
            accepting_cases=accepting,
            patrol=None if patrol is None else patrol.box.detail,
            stages=stages,
        )

    @r.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    )
    def metrics() -> Response:
        """Per-camera fps, lag and reconnects, inference batches and time, case messages, outbox depth."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return r
