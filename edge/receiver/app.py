"""The stand-in city platform: accepts case messages exactly once and lists the cases.

`POST /api/cases` takes the wire format of `edge.delivery.wire` (form field `case` + one
file part per picture, header `Idempotency-Key`); a key seen before gets the original
answer and nothing new is stored. Authentication (bearer token, HMAC signature) is
enforced when configured. Fault switches (`Faults`) make it misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData, UploadFile

from edge.delivery.wire import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    evidence_problem,
    media_type,
    picture_name_problem,
    signature_problem,
)
from edge.receiver.faults import FaultDice, Faults
from edge.receiver.store import ReceiverStore
from edge.receiver.verdicts import VerdictChannel
from edge.types import MessageKind

MAX_PICTURE_BYTES = 16 * 2**20
STATIC = Path(__file__).with_name("static")


class Envelope(BaseModel):
    """The `case` form field."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=300)
    case_id: str = Field(min_length=1, max_length=256)
    seq: int = Field(ge=0)
    kind: MessageKind
    body: dict[str, Any]
    thinned: list[str] = Field(default_factory=list)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def envelope_problem(envelope: Envelope, key: str | None) -> str | None:
    expected = f"{envelope.case_id}:{envelope.seq}"
    if envelope.message_id != expected:
        return f"message_id {envelope.message_id!r} must be '<case_id>:<seq>' = {expected!r}"
    if key != envelope.message_id:
        return f"{IDEMPOTENCY_HEADER} header {key!r} must equal message_id {envelope.message_id!r}"
    for field in ("case_id", "seq", "kind"):
        if field in envelope.body and envelope.body[field] != getattr(envelope, field):
            return f"body.{field} {envelope.body[field]!r} disagrees with the message's {getattr(envelope, field)!r}"
    return None


def create_app(
    db_path: Path,
    *,
    token: str | None = None,
    hmac_secret: bytes | None = None,
    faults: Faults | None = None,
    seed: int | None = None,
    verdicts: VerdictChannel | None = None,
) -> FastAPI:
    """A receiver storing into `db_path`; `token`/`hmac_secret` switch authentication on; `verdicts`:
    the channel that carries the operator's verdicts to the boxes (MQTT commands, or a box's API)."""
    store = ReceiverStore(db_path)
    state = {"faults": faults or Faults()}
    replays = [0]  # posts of a key already stored: what a sender repeated (lost answers, or a bug)
    dice = FaultDice(seed)
    app = FastAPI(title="edge stand-in platform receiver", version="1")

    def current() -> Faults:
        return state["faults"]

    def auth_problem(request: Request, body: bytes) -> str | None:
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return "missing or wrong bearer token"
        if hmac_secret is not None:
            return signature_problem(
                hmac_secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
                time.time(),
            )
        return None

    async def read_pictures(form: FormData) -> dict[str, bytes] | str:
        pictures: dict[str, bytes] = {}
        for _field, part in form.multi_items():
            if not isinstance(part, UploadFile):
                continue
            name = part.filename or ""
            problem = picture_name_problem(name)
            if problem:
                return problem
            if name in pictures:
                return f"picture {name!r} appears twice"
            data = await part.read()
            problem = evidence_problem(name, data)
            if problem:
                return problem
            pictures[name] = data
        return pictures

    @app.middleware("http")
    async def down_switch(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        faults = current()
        if faults.down and request.url.path.startswith("/api/"):
            return _fault_answer(503, faults, "platform is down (fault switch)")
        return await call_next(request)

    async def accept_case(request: Request, form: FormData, faults: Faults) -> Response:
        """Validate one authenticated message and store it once (its form is open meanwhile)."""
        raw = form.get("case")
        if not isinstance(raw, str):
            return _error(400, "form field 'case' (JSON) is missing")
        try:
            envelope = Envelope.model_validate_json(raw)
        except ValidationError as exc:
            return _error(400, f"form field 'case' is invalid: {exc.errors(include_url=False)}")
        problem = envelope_problem(envelope, request.headers.get(IDEMPOTENCY_HEADER))
        if problem:
            return _error(400, problem)
        pictures = await read_pictures(form)
        if isinstance(pictures, str):
            return _error(400, pictures)
        original = await run_in_threadpool(store.result, envelope.message_id)
        if original is not None:
            replays[0] += 1
            await asyncio.sleep(faults.latency_s)
            return JSONResponse(original, status_code=201, headers={"Idempotent-Replayed": "true"})
        if dice.reject(faults, envelope.case_id):
            return _error(faults.reject_status, f"case {envelope.case_id} rejected (fault switch)")
        failure = dice.failure(faults)
        if failure is not None and not faults.lose_ack:
            return _fault_answer(failure, faults, f"failed on purpose (fault switch, HTTP {failure})")
        result, _ = await run_in_threadpool(store.save, envelope.model_dump(), pictures)
        await asyncio.sleep(faults.latency_s)
        if failure is not None:
            return _fault_answer(failure, faults, f"failed on purpose (fault switch, HTTP {failure})")
        return JSONResponse(result, status_code=201)

    @app.post("/api/cases", status_code=201, summary="Post one case message (multipart)")
    async def post_case(request: Request) -> Response:
        faults = current()
        body = await request.body()
        problem = auth_problem(request, body)
        if problem:
            return _error(401, problem, {"WWW-Authenticate": "Bearer"})
        async with request.form(max_part_size=MAX_PICTURE_BYTES) as form:  # closes the pictures' spooled files
            return await accept_case(request, form, faults)

    @app.get("/api/cases", summary="Cases in order of arrival, each with its latest state")
    def list_cases(
        limit: int = Query(1000, ge=1, le=10000), offset: int = Query(0, ge=0, le=10**9)
    ) -> list[dict[str, Any]]:
        return store.list_cases(limit, offset)

    @app.get("/api/cases/{case_id}", summary="One case with all its messages")
    def get_case(case_id: str) -> dict[str, Any]:
        case = store.case(case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id!r}")
        return case

    @app.get("/api/cases/{case_id}/pictures/{name}", summary="An evidence picture (JPEG) or clip (MP4/MOV)")
    def get_picture(case_id: str, name: str) -> Response:
        problem = picture_name_problem(name)
        if problem:
            raise HTTPException(400, problem)
        data = store.picture(case_id, name)
        if data is None:
            raise HTTPException(404, f"case {case_id!r} has no picture {name!r}")
        return Response(data, media_type=media_type(name))

    @app.post("/api/cases/{case_id}/verdict", summary="Send the operator's verdict on a case to its box")
    def send_verdict(case_id: str, verdict: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        """`{"verdict": "confirmed"}` or `{"verdict": "false_alarm", "reason": "wrong_object", "note": "..."}`;
        the box validates it and answers (its status and words come back as they are)."""
        if verdicts is None:
            return _error(503, "no channel to the boxes: start the receiver with --mqtt or --box-api")
        case = store.case(case_id)
        if case is None:
            return _error(404, f"no case {case_id!r}")
        worker = case["latest"].get("worker")
        worker_id = worker.get("id") if isinstance(worker, dict) else None
        if not isinstance(worker_id, str) or not worker_id:
            return _error(409, f"case {case_id!r} does not name the box that reported it")
        request = {"request_id": f"platform-{uuid.uuid4().hex}"} | verdict
        answer = verdicts.send(worker_id, case_id, request)
        if answer.accepted:
            store.save_verdict(case_id, answer.body)
        return JSONResponse(answer.body, status_code=answer.status)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/platform/")

    @app.get("/api/boxes", summary="Edge boxes heard of over MQTT, with their last status")
    def boxes() -> list[dict[str, Any]]:
        return list(store.boxes().values())

    @app.get("/api/schema", summary="JSON schema of the case body (the case contract)")
    def schema() -> dict[str, Any]:
        from edge.cases.contract import case_json_schema  # late: the case stage is not needed to receive

        return case_json_schema()

    @app.get("/admin/faults", summary="Current fault switches")
    def get_faults() -> Faults:
        return current()

    @app.put("/admin/faults", summary="Replace the fault switches")
    def put_faults(new: Faults) -> Faults:
        state["faults"] = new
        return new

    @app.get("/healthz", summary="Liveness, stored messages, and posts of an already stored key since start")
    def healthz() -> dict[str, Any]:
        return {"ok": not current().down, "messages": store.count(), "replays": replays[0]}

    app.mount("/platform", StaticFiles(directory=STATIC, html=True), name="platform")  # the operator's pages
    return app


def _fault_answer(status: int, faults: Faults, detail: str) -> JSONResponse:
    headers = None
    if status in (429, 503) and faults.retry_after_s is not None:
        headers = {"Retry-After": str(faults.retry_after_s)}
    return _error(status, detail, headers)
