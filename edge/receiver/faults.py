"""Switches that make the stand-in platform misbehave on purpose, for tests and demos.

Set at construction, from `edge receiver` flags, or live through `PUT /admin/faults`.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    down: bool = Field(default=False, description="answer every platform request with 503 (admin still works)")
    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction of case posts failed on purpose")
    fail_statuses: list[int] = Field(
        default_factory=lambda: [500, 503], min_length=1, description="statuses a failed post gets, at random"
    )
    lose_ack: bool = Field(
        default=False,
        description="failed posts are stored first, as if the platform saved them and the answer got lost",
    )
    latency_s: float = Field(default=0.0, ge=0.0, le=60.0, description="delay before every case-post answer")
    reject_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction of new posts rejected as 4xx")
    reject_case_ids: list[str] = Field(default_factory=list, description="cases whose posts are rejected as 4xx")
    reject_status: int = Field(default=400, ge=400, le=499, description="status of a rejection")
    retry_after_s: int | None = Field(
        default=None, ge=0, le=3600, description="Retry-After header on 429/503 answers (failures and down)"
    )

    @field_validator("fail_statuses")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if not 400 <= s <= 599]
        if bad:
            raise ValueError(f"fail_statuses must be HTTP error codes 400-599, got {bad}")
        return value


class FaultDice:
    """Seeded coin flips, so a flaky run can be reproduced."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def reject(self, faults: Faults, case_id: str) -> bool:
        return case_id in faults.reject_case_ids or self._rng.random() < faults.reject_rate

    def failure(self, faults: Faults) -> int | None:
        """Status to fail this post with, or None to let it through."""
        if self._rng.random() < faults.fail_rate:
            return self._rng.choice(faults.fail_statuses)
        return None
