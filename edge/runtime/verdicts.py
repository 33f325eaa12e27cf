"""The platform's verdicts, across the worker's cameras: route each to the camera holding its case.

Shared by the operator API (`POST /api/cases/{case}/verdict`) and the MQTT command topic
(`{"command": "verdict", ...}`, docs/fleet.md "Commands"); edge/cases/verdicts.py says what a
verdict is and how it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from edge.cases import Quality, SuppressionView, VerdictError, VerdictRequest

if TYPE_CHECKING:
    from edge.runtime.pipeline import CameraPipeline

ENVELOPE = ("command", "case_id", "reply_to", "correlation_id")  # a command's fields that are not the verdict's
Judge = Callable[[str, VerdictRequest], dict[str, Any]]


def judge(pipelines: Iterable[CameraPipeline], worker_id: str, case_id: str, request: VerdictRequest) -> dict[str, Any]:
    """Store a verdict with its case's camera; the answer as the API and the MQTT reply give it.

    Raises VerdictError: another box's case, an unknown case, a repeat that is not a retry."""
    if request.worker_id is not None and request.worker_id != worker_id:
        raise VerdictError(
            "other_box", f"case {case_id!r} is named as box {request.worker_id!r}'s; this box is {worker_id!r}"
        )
    pipelines = list(pipelines)
    for other in pipelines:  # a request id names one verdict on the whole box
        stored = other.stored_verdict(request.request_id)
        if stored is not None and stored.case_id != case_id:
            raise VerdictError(
                "conflict", f"request id {request.request_id!r} was already used for case {stored.case_id!r}"
            )
    holder = next((p for p in pipelines if p.knows(case_id)), None)
    if holder is None:
        raise VerdictError("unknown_case", f"no case {case_id!r} on this box")
    verdict, replayed = holder.judge(case_id, request)
    return verdict.to_json(replayed)


def verdict_command(judge_case: Judge, request: dict[str, Any]) -> dict[str, Any]:
    """A `verdict` command from the broker: the stored verdict, or `error` with a `code` saying why not."""
    case_id = request.get("case_id")
    if not isinstance(case_id, str) or not case_id:
        return {"code": "invalid", "error": "verdict needs 'case_id', the case's id (a string)"}
    try:
        verdict = VerdictRequest.model_validate({k: v for k, v in request.items() if k not in ENVELOPE})
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'verdict'}: {e['msg']}" for e in exc.errors(include_url=False)]
        return {"case_id": case_id, "code": "invalid", "error": "; ".join(problems)}
    try:
        return judge_case(case_id, verdict)
    except VerdictError as exc:
        return {"case_id": case_id, "code": exc.code, "error": exc.detail}


def quality(pipelines: Iterable[CameraPipeline]) -> list[Quality]:
    return [row for p in pipelines for row in p.quality()]


def suppressions(pipelines: Iterable[CameraPipeline]) -> dict[str, list[SuppressionView]]:
    return {p.camera_id: p.suppressions() for p in pipelines}


def remove_suppression(pipelines: Iterable[CameraPipeline], suppression_id: str) -> bool:
    return any(p.remove_suppression(suppression_id) for p in pipelines)
