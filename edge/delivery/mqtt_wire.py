"""The MQTT wire format between the edge worker and the platform, shared by sink and receiver.

Topics (prefix and worker id from the config):

    <prefix>/<worker>/cases/<camera>    street cases (new / update / cleared)
    <prefix>/<worker>/faults/<camera>   device faults (camera moved, covered, blurred)
    <prefix>/<worker>/status            retained box status; the Last Will marks it offline
    <prefix>/<worker>/acks              the platform's confirmations: {"message_id"} once stored

One message per `CaseMessage`, a UTF-8 JSON object: the HTTP wire's `case` envelope
(message_id, case_id, seq, kind, body, thinned) plus `pictures`, each
`{"name", "bytes", "sha256", "data"}` with the JPEG (or clip) in base64. Pictures travel inside the
message so a case and its evidence arrive, and are acknowledged, together: there is no
second store to keep consistent. Base64 adds a third; the whole message is capped at
`mqtt.max_payload_kb` (1 MiB by default, the default packet limit of EMQX; Mosquitto's is
256 MiB), and pictures that do not fit are left out, last first (a clip is last), and named in `thinned`
as under disk pressure. The `message_id` is the consumer's idempotency key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from edge.delivery.wire import case_envelope, evidence_problem, picture_name_problem
from edge.types import DEVICE_FAULT, CaseMessage


class PayloadError(ValueError):
    """An MQTT message that is not a valid case message; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Encoded:
    payload: bytes
    thinned: tuple[str, ...]  # everything left out: the outbox's thinning and the size cap's


@dataclass(frozen=True, slots=True)
class Decoded:
    envelope: dict[str, Any]  # message_id, case_id, seq, kind, body, thinned
    pictures: dict[str, bytes]


def case_topic(prefix: str, worker_id: str, body: dict[str, Any]) -> str:
    """Faults and street cases on separate topics, one level per camera, so a consumer can pick."""
    camera = body.get("camera")
    camera_id = camera.get("id") if isinstance(camera, dict) else None
    kind = "faults" if body.get("type") == DEVICE_FAULT else "cases"
    return f"{prefix}/{worker_id}/{kind}/{camera_id or 'unknown'}"


def status_topic(prefix: str, worker_id: str) -> str:
    return f"{prefix}/{worker_id}/status"


def ack_topic(prefix: str, worker_id: str) -> str:
    return f"{prefix}/{worker_id}/acks"


def command_topic(prefix: str, worker_id: str) -> str:
    """Requests to the box (e.g. verify a case); each names its reply topic (docs/fleet.md)."""
    return f"{prefix}/{worker_id}/commands"


def ack_payload(message_id: str) -> bytes:
    return json.dumps({"message_id": message_id}, ensure_ascii=False).encode()


def acked_message_id(payload: bytes) -> str | None:
    """The message id a confirmation names, or None for anything else."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    message_id = document.get("message_id") if isinstance(document, dict) else None
    return message_id if isinstance(message_id, str) else None


def _picture(name: str, data: bytes) -> dict[str, Any]:
    return {
        "name": name,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(data).decode("ascii"),
    }


def encode(msg: CaseMessage, thinned: tuple[str, ...], max_bytes: int) -> Encoded | None:
    """The message as one payload of at most `max_bytes`, thinning pictures last first; None when
    even the record without pictures is larger."""
    pictures = [_picture(name, data) for name, data in msg.pictures.items()]
    while True:
        left_out = tuple(thinned) + tuple(name for name in msg.pictures if name not in {p["name"] for p in pictures})
        document = {**case_envelope(msg, left_out), "pictures": pictures}
        payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        if len(payload) <= max_bytes:
            return Encoded(payload, left_out)
        if not pictures:
            return None
        pictures = pictures[:-1]


def decode(payload: bytes) -> Decoded:
    """Parse and check a case message; pictures must be JPEGs (clips MP4/MOV) whose sha256 matches."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PayloadError("payload must be a JSON object")
    items = document.pop("pictures", [])
    if not isinstance(items, list):
        raise PayloadError("'pictures' must be a list")
    pictures: dict[str, bytes] = {}
    for item in items:
        if not isinstance(item, dict) or not {"name", "sha256", "data"} <= item.keys():
            raise PayloadError("each picture needs 'name', 'sha256' and 'data'")
        name = str(item["name"])
        problem = picture_name_problem(name)
        if problem:
            raise PayloadError(problem)
        if name in pictures:
            raise PayloadError(f"picture {name!r} appears twice")
        try:
            data = base64.b64decode(str(item["data"]), validate=True)
        except binascii.Error as exc:
            raise PayloadError(f"picture {name!r} is not base64: {exc}") from None
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            raise PayloadError(f"picture {name!r} does not match its sha256 (damaged on the way)")
        problem = evidence_problem(name, data)
        if problem:
            raise PayloadError(problem)
        pictures[name] = data
    return Decoded(document, pictures)
