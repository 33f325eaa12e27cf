"""Which pictures a camera must decode, from what its rules need.

Key-frame-only decoding costs about 1/GOP of full decoding, but it samples at most once per GOP.
That is enough when every rule looks at persistence that lasts many GOPs and tolerates gaps longer
than one GOP; a rule that reacts within a few seconds needs every frame at the analysis rate.
"""

from __future__ import annotations

from edge.config import CameraConfig
from edge.ingest.decode import DecodeMode

SAMPLES_PER_DURATION = 10  # a persistence rule should see at least this many pictures within min_duration_s
SAMPLES_PER_GAP = 2  # and at least this many within its gap allowance, so one lost picture can't reset it
SAMPLES_PER_STALL = 2  # key frames must come often enough that the stall watchdog doesn't fire between them


def choose_decode(camera: CameraConfig, gop_s: float | None) -> DecodeMode:
    """`analysis.decode` if forced; otherwise key frames only when the measured GOP is short enough.

    `gop_s` is the key frame interval in media seconds, None while it is not yet known.
    """
    if camera.analysis.decode != "auto":
        return camera.analysis.decode
    if gop_s is None or gop_s <= 0:
        return "all"
    step = max(gop_s, 1.0 / camera.analysis.fps)  # what key-frame-only sampling would give
    if step * SAMPLES_PER_STALL > camera.source.stall_timeout_s:
        return "all"
    if gop_s <= 1.0 / camera.analysis.fps:
        return "keyframes"  # key frames already come at least as often as the analysis rate
    for placed in camera.rules(enabled_only=True):
        rule = placed.rule
        if step * SAMPLES_PER_DURATION > rule.min_duration_s or step * SAMPLES_PER_GAP > rule.gap_allowance_s:
            return "all"
    return "keyframes"
