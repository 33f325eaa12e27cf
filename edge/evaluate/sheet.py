"""Contact sheet: every case's evidence pictures on one PNG, one row per case, captioned.

A tester checks a rule set's cases at a glance: the row caption says case, event, zone, object
and when it opened; each tile says which message and picture it is (first_seen, full, crop,
after) and its media time. A picture that cannot be decoded becomes a marked grey tile, so a bad
JPEG is seen rather than silently left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.draw import fit, label
from edge.types import CaseMessage

CAPTION_COLOUR = (50, 50, 50)
ROW_COLOUR = (110, 40, 40)
BACKGROUND = 240
_GAP = 6
ROW_TEXT, TILE_TEXT = 0.55, 0.45  # font scales: readable at the tile size, whatever the source picture


def _tiles(messages: Sequence[CaseMessage], width: int, height: int) -> list[np.ndarray]:
    """One captioned tile per evidence picture of a case, in message (seq) order."""
    tiles = []
    for message in sorted(messages, key=lambda m: m.seq):
        entries = {e["name"]: e for e in message.body.get("evidence", [])}
        names = [n for n in entries if n in message.pictures] + [n for n in message.pictures if n not in entries]
        for name in names:  # in the contract's evidence order: full, crop, first_seen
            image = cv2.imdecode(np.frombuffer(message.pictures[name], np.uint8), cv2.IMREAD_COLOR)
            entry = entries.get(name, {})
            caption = f"{message.kind} {name}"
            if "media_s" in entry:
                caption += f" @{entry['media_s']:.1f}s"
            if image is None:
                tile = np.full((height, width, 3), 128, np.uint8)
                caption += " (undecodable)"
            else:
                tile = fit(image, width, height)
            label(tile, caption, 0, height, CAPTION_COLOUR, TILE_TEXT, above=True)
            tiles.append(tile)
    return tiles


def subject(message: CaseMessage) -> str:
    """What a message is about: event code and zone of a case, or the kind of a device fault."""
    body = message.body
    if message.is_device_fault:
        return f"device fault {body['fault']['kind']}"
    return f"{body['event']['code']} {body['zone']['id']}"


def _row_caption(messages: Sequence[CaseMessage]) -> str:
    first = min(messages, key=lambda m: m.seq)
    body = first.body
    last = max(messages, key=lambda m: m.seq).kind
    if first.is_device_fault:
        return f"{first.case_id}  {subject(first)} @{body['time_media_s']:.1f}s  last: {last}"
    detection = body.get("detection", {})
    opened = body.get("times", {}).get("confirmed_media_s")
    when = f" opened @{opened:.1f}s" if opened is not None else ""
    return (
        f"{first.case_id}  {subject(first)}  "
        f"{detection.get('class', '')} {detection.get('score', 0):.2f}{when}  last: {last}"
    )


def contact_sheet(
    messages: Sequence[CaseMessage], path: Path, tile_width: int = 320, max_tiles: int = 6
) -> tuple[int, int]:
    """Write the PNG of all cases in `messages` (cases in order of first message); returns (cases, tiles).

    A case with more than `max_tiles` pictures shows the first ones and says how many are left out.
    With no cases the sheet says so, so a run always leaves a sheet to look at.
    """
    if tile_width < 64 or max_tiles < 1:
        raise ValueError(f"tile_width must be >= 64 and max_tiles >= 1, got {tile_width}, {max_tiles}")
    tile_height = tile_width * 3 // 4
    cases: dict[str, list[CaseMessage]] = {}
    for message in messages:
        cases.setdefault(message.case_id, []).append(message)
    tiles = {case_id: _tiles(group, tile_width, tile_height) for case_id, group in cases.items()}
    columns = min(max_tiles, max((len(t) for t in tiles.values()), default=1)) or 1
    width = _GAP + columns * (tile_width + _GAP)
    caption_h = label(np.zeros((tile_height, width, 3), np.uint8), "Xg", 0, 0, ROW_COLOUR, ROW_TEXT) + _GAP
    rows, shown = [], 0
    for case_id, group in cases.items():
        row = np.full((caption_h + tile_height + _GAP, width, 3), BACKGROUND, np.uint8)
        caption = _row_caption(group)
        if len(tiles[case_id]) > columns:
            caption += f"  (+{len(tiles[case_id]) - columns} more pictures)"
        label(row, caption, _GAP, 0, ROW_COLOUR, ROW_TEXT)
        for i, tile in enumerate(tiles[case_id][:columns]):
            x = _GAP + i * (tile_width + _GAP)
            row[caption_h : caption_h + tile_height, x : x + tile_width] = tile
        shown += min(len(tiles[case_id]), columns)
        rows.append(row)
    if not rows:
        empty = np.full((caption_h + _GAP, width, 3), BACKGROUND, np.uint8)
        label(empty, "no cases", _GAP, _GAP // 2, ROW_COLOUR, ROW_TEXT)
        rows.append(empty)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", np.vstack(rows))
    if not ok:
        raise OSError(f"cannot encode the contact sheet {path}")
    path.write_bytes(png.tobytes())
    return len(cases), shown
