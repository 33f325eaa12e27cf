"""Requests to the box, routed to the camera whose pipeline holds their case.

A verification (`ask`) comes from the operator API or the broker's command topic and names a case
only; the camera whose state holds the case answers it from its next analysed frames
(edge/runtime/verifier.py). Commands from the command topic are dispatched by name here
(docs/fleet.md, "Commands"); verdicts are routed the same way in edge/runtime/verdicts.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from edge.cases.verify import Verification, VerifyRequest
from edge.config.verification import VerificationConfig
from edge.delivery.fleet import CommandHandler
from edge.runtime.pipeline import CameraPipeline


def ask(
    pipelines: Iterable[CameraPipeline], bound: VerificationConfig, case_id: str, request_id: str | None = None
) -> Verification:
    """Verify a case on whichever camera holds it; never waits longer than `bound.timeout_s`."""
    request = VerifyRequest(case_id, request_id or uuid.uuid4().hex, time.time())
    pipeline = next((p for p in pipelines if p.knows(case_id)), None)
    if pipeline is None:
        return Verification(request, "unknown_case", time.time(), f"no case {case_id!r} on this box")
    future = pipeline.verify(request, bound.frames)
    try:
        return future.result(timeout=bound.timeout_s)
    except TimeoutError:
        return pipeline.give_up(future, f"no analysed frame of camera {pipeline.camera_id!r} in {bound.timeout_s:g} s")


def answer_command(handlers: Mapping[str, CommandHandler], request: dict[str, Any]) -> dict[str, Any]:
    """A command from the broker's command topic (docs/fleet.md, "Commands"), by its `command` field."""
    command = request.get("command")
    handler = handlers.get(command) if isinstance(command, str) else None
    if handler is None:
        return {"command": command, "error": f"unknown command {command!r}; known: {sorted(handlers)}"}
    return {"command": command, **handler(request)}


def verify_command(verify: Callable[[str, str | None], Verification], request: dict[str, Any]) -> dict[str, Any]:
    """`verify`: look at a case now (`ask`)."""
    case_id, request_id = request.get("case_id"), request.get("request_id")
    if not isinstance(case_id, str) or not case_id:
        return {"error": "verify needs 'case_id', the case's id (a string)"}
    return verify(case_id, request_id if isinstance(request_id, str) else None).to_json()
