"""The platform's verdicts on cases: how long a rejected object stays suppressed, when a zone is noisy."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class VerdictsConfig(Section):
    suppress_days: float = Field(
        default=30.0,
        gt=0.0,
        le=365.0,
        description="days a `false_alarm`/`wrong_object` verdict keeps its object (class, place, look) from "
        "starting a candidate for its camera and rule; a view change or re-aim ends it sooner",
    )
    flag_min_verdicts: int = Field(
        default=10,
        ge=1,
        le=10000,
        description="verdicts a camera/zone/rule needs before its precision can flag it as noisy",
    )
    flag_below_precision: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="a zone/rule whose confirmed / (confirmed + false alarms) is under this is flagged to "
        "operators (never silenced automatically)",
    )
