"""Verification requests of one camera, answered from its next analysed frames (see edge/cases/verify.py).

The pipeline calls `step()` under its lock after each analysed frame's rules; a caller waits on the
request's future for at most `verification.timeout_s`, then calls `give_up()` (camera_unavailable);
edge/runtime/routing.py finds the camera that holds a case.
A request id asked again gets the same answer (and the case the same message, never a second one).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from edge.cases import CaseEngine
from edge.cases.verify import Verdict, Verification, VerifyRequest
from edge.types import CaseMessage, Detections, Frame

REMEMBERED = 256  # answers kept by request id, for callers that retry


@dataclass
class _Pending:
    request: VerifyRequest
    frames_left: int
    future: Future[Verification] = field(default_factory=Future)


class Verifier:
    """Pending requests and recent answers of one camera's case engine; not thread-safe by itself."""

    def __init__(self, engine: CaseEngine) -> None:
        self._engine = engine
        self._pending: dict[str, _Pending] = {}
        self._answers: OrderedDict[str, Verification] = OrderedDict()

    def add(self, request: VerifyRequest, frames: int) -> Future[Verification]:
        """Queue a request for the next `frames` analysed frames (a repeated request id joins the first)."""
        future: Future[Verification] = Future()
        if request.request_id in self._answers:
            future.set_result(self._answers[request.request_id])
            return future
        if request.request_id in self._pending:
            return self._pending[request.request_id].future
        pending = _Pending(request, frames, future)
        self._pending[request.request_id] = pending
        return future

    def step(
        self, frame: Frame, detections: dict[str, Detections], static: Detections | None, view_bad: bool
    ) -> list[CaseMessage]:
        """Look for each pending case in this frame; answer those decided (a message each, stored)."""
        out = []
        for pending in list(self._pending.values()):
            case_id = pending.request.case_id
            seen = None if view_bad else self._engine.sees(case_id, frame, detections, static)
            pending.frames_left -= 1
            if view_bad:
                verdict: Verdict = "view_changed"
                detail = "the camera's view was cut, moved or covered: the zone no longer shows the same place"
            elif seen is None:
                gone_rule = Verification(pending.request, "unknown_case", time.time(), "the case's rule was removed")
                self._finish(pending, gone_rule)
                continue
            elif len(seen):
                verdict, detail = "still_present", "the case's object is still at its place in the zone"
            elif pending.frames_left > 0:
                continue
            else:
                verdict, detail = "gone", "the case's object was not at its place in the zone in any analysed frame"
            answer = Verification(pending.request, verdict, time.time(), detail)
            message = self._engine.verified(answer, frame, np.zeros((0, 4)) if seen is None else seen, detections)
            out.append(message)
            self._finish(pending, Verification(answer.request, verdict, answer.answered_at, detail, message))
        return out

    def give_up(self, future: Future[Verification], detail: str) -> Verification:
        """The wait ended without an answer: camera_unavailable, stored as the case's message."""
        pending = next((p for p in self._pending.values() if p.future is future), None)
        if pending is None:  # answered meanwhile
            return future.result(timeout=0)
        answer = Verification(pending.request, "camera_unavailable", time.time(), detail)
        message = self._engine.verified(answer, None, np.zeros((0, 4)))
        answer = Verification(answer.request, answer.verdict, answer.answered_at, detail, message)
        self._finish(pending, answer)
        return answer

    def _finish(self, pending: _Pending, answer: Verification) -> None:
        del self._pending[pending.request.request_id]
        self._answers[pending.request.request_id] = answer
        while len(self._answers) > REMEMBERED:
            self._answers.popitem(last=False)
        pending.future.set_result(answer)
