"""Same decisions from two runs of one clip: the parity a speed-up must keep (issue: 'a speed-up that
changes a case is a bug'). Cases match by id; their messages by kind and order, with times within
one analysed frame and boxes within IoU 0.9."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.types import CaseMessage


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    w, h = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - w * h
    return w * h / union if union > 0 else 0.0


def decisions(messages: Sequence[CaseMessage]) -> dict[str, list[CaseMessage]]:
    """Case messages (device faults left out) per case id, in order."""
    out: dict[str, list[CaseMessage]] = {}
    for m in messages:
        if not m.is_device_fault:
            out.setdefault(m.case_id, []).append(m)
    return out


def assert_same_decisions(
    expected: Sequence[CaseMessage], got: Sequence[CaseMessage], frame_s: float, min_iou: float = 0.9
) -> None:
    """`got` opened, updated and cleared the same cases as `expected`, within one analysed frame."""
    a, b = decisions(expected), decisions(got)
    assert sorted(a) == sorted(b), f"case ids differ: {sorted(a)} vs {sorted(b)}"
    for case_id, want in a.items():
        have = b[case_id]
        assert [m.kind for m in want] == [m.kind for m in have], f"{case_id}: messages differ"
        for w, h in zip(want, have, strict=True):
            wt, ht = w.body["times"]["message_media_s"], h.body["times"]["message_media_s"]
            assert abs(wt - ht) <= frame_s + 1e-6, f"{case_id} {w.kind}: at {wt} s vs {ht} s"
            overlap = iou(w.body["detection"]["box"], h.body["detection"]["box"])
            assert overlap >= min_iou, f"{case_id} {w.kind}: boxes overlap only IoU {np.round(overlap, 3)}"
