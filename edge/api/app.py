"""The operator API: `create_app(worker, zones, api)` builds it; `edge run` serves it with uvicorn."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from edge import __version__
from edge.api import errors
from edge.api.deps import WorkerView
from edge.api.errors import AUTH_ERRORS, INVALID
from edge.api.metrics import SnapshotCollector
from edge.api.routes import cameras, cases, health, i18n, live, outbox, verdicts, zones
from edge.api.security import GuardMiddleware, api_token, token_guard
from edge.api.zoneedit import ZoneEditor
from edge.config.api import ApiConfig
from edge.zones.store import ZoneStore

STATIC = Path(__file__).with_name("static")


def create_app(
    worker: WorkerView, zone_store: ZoneStore, api: ApiConfig | None = None, env: Mapping[str, str] = os.environ
) -> FastAPI:
    """The API over a running worker; raises ConfigError when no token is configured.

    `zone_store` must have adopted the worker's config (`ZoneStore.adopt`) so that it knows every camera.
    """
    api = api or worker.config.api
    guard = Depends(token_guard(api_token(api, env)))
    editor = ZoneEditor(worker, zone_store)
    app = FastAPI(
        title="edge operator API",
        version=__version__,
        description="Cameras and their health, zones and rules (hot-applied), recent cases, the platform's verdicts, "
        "outbox, metrics.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    errors.install(app)
    app.add_middleware(GuardMiddleware, max_body_bytes=api.max_body_kb * 1024)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(worker, lambda: {c: editor.zones(c).version for c in _camera_ids(worker)}))

    def protected(router: APIRouter) -> None:
        """Mount `router` behind the token, documenting the answers every guarded route can give."""
        app.include_router(router, dependencies=[guard], responses={**AUTH_ERRORS, **INVALID})

    if api.public_liveness:
        app.include_router(health.liveness_router())
    else:
        protected(health.liveness_router())
    protected(health.router(worker, registry))
    protected(cameras.router(worker, editor))
    protected(live.router(worker, editor))
    protected(zones.router(editor))
    protected(cases.router(worker))
    protected(verdicts.router(worker))
    protected(outbox.router(worker))

    @app.get("/openapi.json", include_in_schema=False, dependencies=[guard])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/editor/")

    app.include_router(i18n.router())  # the pages' texts in the browser's language, before the static files
    app.mount("/editor", StaticFiles(directory=STATIC, html=True), name="editor")
    return app


def _camera_ids(worker: WorkerView) -> list[str]:
    return [c.id for c in worker.config.cameras]
