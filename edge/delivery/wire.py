"""The wire format between the edge worker and the platform, shared by sender and receiver.

One POST per `CaseMessage`: a multipart body with a form field `case` (JSON: message_id,
case_id, seq, kind, body, thinned) and one file part per picture (file name = picture
name). The `Idempotency-Key` header carries `message_id`. Optional authentication: a
bearer token, and/or an HMAC-SHA256 over "<timestamp>." + the exact body bytes, so a
captured request cannot be replayed later or altered in flight.

Keeping encoding and verification in one module means the stand-in receiver checks
exactly what the sender produces.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import httpx

from edge.types import CaseMessage

IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Edge-Timestamp"
SIGNATURE_HEADER = "X-Edge-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_SIGNATURE_TOLERANCE_S = 300.0

# Picture names travel as multipart file names and become URL path segments at the platform.
PICTURE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


# Evidence files by name ending: pictures, and clips (docs/evidence.md), each checked by its magic bytes.
EVIDENCE_TYPES = {".jpg": "image/jpeg", ".mp4": "video/mp4", ".mov": "video/quicktime"}
CLIP_SUFFIXES = (".mp4", ".mov")


def media_type(name: str) -> str:
    """The content type of an evidence file, from its name (JPEG unless it is a clip)."""
    return next((t for suffix, t in EVIDENCE_TYPES.items() if name.endswith(suffix)), "image/jpeg")


def evidence_problem(name: str, data: bytes) -> str | None:
    """Why `data` is not what its name says (a JPEG, or an ISO-media clip), or None when it is."""
    if name.endswith(CLIP_SUFFIXES):
        return None if data[4:8] == b"ftyp" else f"clip {name!r} is not an MP4/MOV file"
    return None if data.startswith(b"\xff\xd8\xff") else f"picture {name!r} is not a JPEG"


def picture_name_problem(name: str) -> str | None:
    """Why `name` cannot be a picture name, or None when it can."""
    if not PICTURE_NAME.match(name) or ".." in name:
        return f"picture name {name!r} must be 1-128 of [A-Za-z0-9_.-], not start with '.', no '..'"
    return None


def case_envelope(msg: CaseMessage, thinned: tuple[str, ...] = ()) -> dict[str, Any]:
    """The `case` form field: the message's identity plus its opaque body."""
    return {
        "message_id": msg.message_id,
        "case_id": msg.case_id,
        "seq": msg.seq,
        "kind": msg.kind,
        "body": msg.body,
        "thinned": list(thinned),
    }


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def signature_problem(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_SIGNATURE_TOLERANCE_S,
) -> str | None:
    """Why a request's signature is not acceptable, or None when it is."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    try:
        stamp = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be unix seconds, got {timestamp[:40]!r}"
    if abs(now - stamp) > tolerance_s:
        return f"{TIMESTAMP_HEADER} is {now - stamp:.0f} s off the receiver clock (tolerance {tolerance_s:.0f} s)"
    if not hmac.compare_digest(sign(secret, stamp, body), signature):
        return "signature does not match the body"
    return None


def build_request(
    url: str,
    msg: CaseMessage,
    pictures: dict[str, bytes],
    thinned: tuple[str, ...],
    *,
    token: str | None,
    hmac_secret: bytes | None,
    now: float,
) -> httpx.Request:
    """A ready-to-send request; the body is read eagerly so it can be signed byte for byte."""
    files = [(name, (name, data, media_type(name))) for name, data in pictures.items()]
    envelope = json.dumps(case_envelope(msg, thinned), ensure_ascii=False, separators=(",", ":"))
    headers = {IDEMPOTENCY_HEADER: msg.message_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Without pictures httpx sends a url-encoded form; the receiver parses either.
    request = httpx.Request("POST", url, data={"case": envelope}, files=files or None, headers=headers)
    body = request.read()
    if hmac_secret:
        stamp = int(now)
        request.headers[TIMESTAMP_HEADER] = str(stamp)
        request.headers[SIGNATURE_HEADER] = sign(hmac_secret, stamp, body)
    return request
