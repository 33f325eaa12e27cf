"""The case contract: the JSON body of every message about a case, and its JSON schema.

docs/case-contract.md explains each field; `case_json_schema()` is what the receiver serves and
what tests validate bodies against. `case_id_for` derives ids from the case's identity and the
wall time of its first sighting, so a replay with a fixed epoch reproduces the same ids and the
platform can use them as idempotency keys.
"""

from __future__ import annotations

import hashlib
from typing import Any

from edge.config import RuleKind
from edge.isotime import compact_utc

SCHEMA_ID = "edge.case/1"


def case_id_for(worker_id: str, camera_id: str, zone_id: str, rule_id: str, first_seen: float, place: str) -> str:
    """Stable id: camera, UTC second of the first sighting, and a digest of the case's identity."""
    identity = f"{worker_id}|{camera_id}|{zone_id}|{rule_id}|{round(first_seen * 1000)}|{place}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{camera_id}-{compact_utc(first_seen)}-{digest}"


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer", "minimum": 0}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_MEDIA = {"type": ["number", "null"]}
_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}


# `detection.plate` of rules with plates: true (docs/case-contract.md, "Plates")
_PLATE = {
    "type": "object",
    "properties": {
        "text": {"type": ["string", "null"], "minLength": 7, "maxLength": 8},
        "display": {"type": ["string", "null"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "box": {"oneOf": [_BOX, {"type": "null"}]},
        "char_px": {"type": ["number", "null"]},
        "picture": {"type": ["string", "null"]},
        "unread": {"enum": [None, "too_small", "blurred", "no_text", "low_confidence", "busy", "timeout"]},
    },
    "required": ["text", "display", "confidence", "box", "char_px", "picture", "unread"],
    "additionalProperties": False,
}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
        "additionalProperties": False,
    }


def case_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a case message body: new cases, updates, clearings and verifications."""
    evidence = _object(
        {
            "name": _STR,
            "kind": {"enum": ["full", "crop", "first_seen", "after", "verification", "clip", "plate"]},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "bytes": _INT,
            "taken_at": {"type": "string", "format": "date-time"},
            "media_s": _NUM,
            "width": _INT,
            "height": _INT,
            # clips only (docs/evidence.md): length, end, codec and frame count of the video
            "duration_s": _NUM,
            "end_media_s": _NUM,
            "codec": _STR,
            "frames": _INT,
        },
        optional=("duration_s", "end_media_s", "codec", "frames"),
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "edge case message",
        **_object(
            {
                "schema": {"const": SCHEMA_ID},
                "case_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "message_id": {"type": "string", "description": "case_id:seq, the idempotency key of this message"},
                "seq": {"type": "integer", "minimum": 1},
                "kind": {"enum": ["new", "update", "cleared", "verification"]},
                "status": {"enum": ["confirmed", "updated", "cleared"]},
                "camera": _object({"id": _STR, "name": _STR}),
                "event": _object(
                    {
                        "code": {"type": "string", "pattern": "^[0-9]{4}$"},
                        "name": _STR,
                        "major_code": _STR,
                        "major_name": _STR,
                    }
                ),
                "severity": {
                    "enum": ["urgent", "normal", "routine"],
                    "description": "the rule's severity, else its event's (docs/case-contract.md)",
                },
                "source": _STR,
                "description": _STR,
                "zone": _object({"id": _STR, "name": _STR, "version": {"type": "integer", "minimum": 0}}),
                "rule": _object(
                    {
                        "id": _STR,
                        "kind": {"enum": [kind.value for kind in RuleKind]},
                        "case_per": {"enum": ["object", "zone"]},
                        "min_duration_s": _NUM,
                    }
                ),
                "times": _object(
                    {
                        "first_seen": {"type": "string", "format": "date-time"},
                        "confirmed": {"type": "string", "format": "date-time"},
                        "updated": _TIME,
                        "cleared": _TIME,
                        "duration_s": {"type": "number", "minimum": 0},
                        "first_seen_media_s": _NUM,
                        "confirmed_media_s": _NUM,
                        "message_media_s": _MEDIA,
                    }
                ),
                "location": _object(
                    {
                        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
                        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                        "address": _STR,
                        "grid_code": {"type": "string", "pattern": "^([0-9]{15})?$"},
                    }
                ),
                "detection": _object(
                    {
                        "class": _STR,
                        "score": {"type": "number", "minimum": 0, "maximum": 1},
                        "box": _BOX,
                        "box_norm": _BOX,
                        "frame": _object({"width": _INT, "height": _INT}),
                        "objects": _INT,
                        "measure": _MEDIA,
                        "plate": _PLATE,
                    },
                    optional=("plate",),
                ),
                "evidence": {"type": "array", "items": evidence},
                "worker": _object({"id": _STR, "version": _STR}),
                "model": _object({"id": _STR, "version": _STR}),
                "repeat_count": {"type": "integer", "minimum": 1},
                "reason": {"type": ["string", "null"]},
                "verification": _object(
                    {
                        "verdict": {"enum": ["still_present", "gone", "camera_unavailable", "view_changed"]},
                        "detail": _STR,
                        "request_id": _STR,
                        "requested_at": {"type": "string", "format": "date-time"},
                        "answered_at": {"type": "string", "format": "date-time"},
                    }
                ),
            },
            optional=("verification",),
        ),
    }
