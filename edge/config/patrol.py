"""Patrol (轮巡): a camera visited in turn for a few pictures, instead of watched continuously.

`analysis.mode: patrol` makes a camera a patrol camera; the box-level `patrol:` section bounds how
many visits run at once (the video platform's stream quota). The revisit interval is derived from
the camera's rules when not given: a third of the shortest `min_duration_s` / `clear_after_s`, so
every violation is seen on at least three visits before it is confirmed and a vehicle that left is
cleared within a revisit of `clear_after_s`. docs/patrol.md explains the arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from edge.config.base import Section

if TYPE_CHECKING:
    from edge.config.camera import CameraConfig
    from edge.config.zones import RuleConfig

AnalysisMode = Literal["continuous", "patrol"]
SourceKind = Literal["stream", "snapshot"]
SnapshotAuth = Literal["none", "basic", "digest"]

VISITS_PER_RULE = 3  # a derived revisit sees a violation on this many visits within its shortest duration
DEFAULT_REVISIT_S = 60.0  # a patrol camera whose rules set no bound (none enabled)
MIN_REVISIT_S = 1.0  # shorter than this a patrol is a continuous stream with extra connects


class PatrolConfig(Section):
    """The box's patrol: how many visits may be in flight at once."""

    max_concurrent_visits: int = Field(
        default=8, ge=1, le=256, description="visits in flight at once (the video platform's concurrent stream quota)"
    )
    jitter: float = Field(
        default=0.1,
        ge=0.0,
        le=0.5,
        description="each visit is due up to this fraction of its revisit interval early, so cameras that "
        "started together spread out instead of arriving at the platform in lockstep",
    )


def bounding_rules(camera: CameraConfig) -> list[RuleConfig]:
    """Enabled rules whose timing bounds the revisit interval."""
    return [placed.rule for placed in camera.rules(enabled_only=True)]


def derived_revisit_s(camera: CameraConfig) -> float:
    """A third of the shortest min_duration_s / clear_after_s of the camera's enabled rules."""
    bounds = [min(r.min_duration_s, r.clear_after_s) for r in bounding_rules(camera)]
    if not bounds:
        return DEFAULT_REVISIT_S
    return max(MIN_REVISIT_S, min(bounds) / VISITS_PER_RULE)


def revisit_s(camera: CameraConfig) -> float:
    """The camera's revisit interval: its own `analysis.revisit_s`, or else derived from its rules."""
    given = camera.analysis.revisit_s
    return given if given is not None else derived_revisit_s(camera)


def patrol_problem(camera: CameraConfig) -> str | None:
    """Why a patrol camera's settings cannot work (naming the rule), or None."""
    analysis = camera.analysis
    if camera.source.kind == "snapshot" and analysis.mode != "patrol":
        return "a snapshot source answers one picture per request: set analysis.mode to patrol"
    if analysis.mode != "patrol":
        return None
    for placed in camera.rules(enabled_only=True):
        zone, rule = placed.zone, placed.rule
        if rule.min_duration_s < 2 * MIN_REVISIT_S:
            return (
                f"zone {zone.id!r} rule {rule.id!r}: min_duration_s {rule.min_duration_s:g} is too short for "
                f"patrol (two visits at least {MIN_REVISIT_S:g} s apart must both see the object)"
            )
    given = analysis.revisit_s
    if given is None:
        return None
    for placed in camera.rules(enabled_only=True):
        zone, rule = placed.zone, placed.rule
        if given > rule.min_duration_s:
            return (
                f"revisit_s {given:g} cannot confirm zone {zone.id!r} rule {rule.id!r} within its "
                f"min_duration_s {rule.min_duration_s:g} (two visits must fit in it; leave revisit_s out to "
                f"derive {derived_revisit_s(camera):g} s from the rules)"
            )
    return None
