"""Who may call the API and how much they may send.

- Bearer token from the environment variable named by `api.token_env`, compared in constant
  time. Without a token the API refuses to start (`ConfigError`) rather than run open: every
  route that reads or changes worker data needs it. Public are only liveness (`/healthz`, if
  `api.public_liveness`) and the editor's static files, which hold no data and ask for the token.
- Request bodies over `api.max_body_kb` are refused with 413 before any route parses them.
- No CORS headers: a page from another origin cannot read answers. Responses say `nosniff`,
  `no-store`, and pages may load only their own scripts.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.config import ConfigError
from edge.config.api import ApiConfig

MIN_TOKEN_CHARS = 16
_bearer = HTTPBearer(auto_error=False, description="the operator token (environment variable api.token_env)")


def api_token(api: ApiConfig, env: Mapping[str, str]) -> bytes:
    """The configured token, or a ConfigError that tells the operator what to set."""
    token = env.get(api.token_env, "").strip()
    if not token:
        raise ConfigError(
            f"the operator API needs a token: set the environment variable {api.token_env} to a long random "
            "secret (e.g. `openssl rand -hex 24`), or set api.enabled: false to run without the API"
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the API token in {api.token_env} is too short: use at least {MIN_TOKEN_CHARS} characters")
    return token.encode()


def token_guard(token: bytes) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    """A dependency that lets a request through only with `Authorization: Bearer <token>`."""

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode(), token):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "wrong bearer token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    return require_token


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
        b"script-src 'self'; frame-ancestors 'none'",
    ),
]


class GuardMiddleware:
    """Refuses oversized bodies (413) and adds the security headers to every response.

    The body is read here, up to the limit, and handed on whole: a route never sees a partial
    body, and a client that lies about Content-Length or streams without one is still cut off.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _plain(send_with_headers, 400, "Content-Length must be a number of bytes")
                return
            if int(declared) > self.max_body_bytes:
                await _too_large(send_with_headers, self.max_body_bytes)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _too_large(send_with_headers, self.max_body_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)


async def _too_large(send: Send, limit: int) -> None:
    await _plain(send, 413, f"request body is larger than the limit of {limit // 1024} KiB (api.max_body_kb)")


async def _plain(send: Send, code: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
