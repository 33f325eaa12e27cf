"""One shape for every 4xx the API gives: `{"detail": "text"}` or a list of problems.

A validation problem is `{"loc": ["body", "rules", 0, "classes"], "msg": "..."}`: the place in
the request and a sentence an operator can act on, without pydantic's echo of the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from edge.i18n import ENGLISH, negotiate, translate


class Problem(BaseModel):
    loc: list[str | int]
    msg: str


class Problems(BaseModel):
    detail: list[Problem]


class Message(BaseModel):
    detail: str


class UnprocessableError(Exception):
    """Raised by routes for a request that is well-formed but does not fit the running worker."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.msg for p in problems))
        self.problems = list(problems)


def problems_of(errors: Sequence[Any], prefix: Sequence[str | int] = ()) -> list[Problem]:
    """pydantic error dicts -> Problems, with `prefix` put before each location."""
    out = []
    for err in errors:
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        loc = [*prefix, *(p for p in err.get("loc", ()) if isinstance(p, str | int))]
        out.append(Problem(loc=loc, msg=msg))
    return out


def unprocessable(problems: Sequence[Problem]) -> JSONResponse:
    return JSONResponse(Problems(detail=list(problems)).model_dump(), status_code=422)


def validation_problems(exc: ValidationError, prefix: Sequence[str | int] = ("body",)) -> list[Problem]:
    return problems_of(exc.errors(include_input=False, include_url=False), prefix)


def in_language(request: Request, response: JSONResponse) -> JSONResponse:
    """The answer's `detail` texts in the request's language (Accept-Language; edge.i18n), English by default."""
    lang = negotiate(request.headers.get("accept-language"))
    response.headers["Vary"] = "Accept-Language"
    response.headers["Content-Language"] = lang
    if lang == ENGLISH:
        return response
    body = json.loads(response.body)
    detail = body.get("detail")
    if isinstance(detail, str):
        body["detail"] = translate(detail, lang)
    elif isinstance(detail, list):
        body["detail"] = [{**p, "msg": translate(p["msg"], lang)} if isinstance(p, dict) else p for p in detail]
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that give every validation failure the Problems shape, in the caller's language.

    (The decorator form: starlette types `add_exception_handler` for handlers of any `Exception`, while
    each of these takes the one class it is registered for.)
    """

    @app.exception_handler(RequestValidationError)
    async def on_request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return in_language(request, unprocessable(problems_of(exc.errors())))

    @app.exception_handler(UnprocessableError)
    async def on_unprocessable(request: Request, exc: UnprocessableError) -> JSONResponse:
        return in_language(request, unprocessable(exc.problems))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # name every method of the path, not only the first route's
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return in_language(request, JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers))


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


# OpenAPI documentation of answers (FastAPI's `responses=`), keyed by status code.
Responses = dict[int | str, dict[str, Any]]

# The error answers shared by the routes.
AUTH_ERRORS: Responses = {401: {"model": Message, "description": "missing or wrong token"}}
NOT_FOUND: Responses = {404: {"model": Message, "description": "no such item"}}
INVALID: Responses = {422: {"model": Problems, "description": "invalid request"}}
