"""The city event taxonomy (CJ/T 214 lineage) and the default detector-class mapping.

Cities extend or rename entries in the config's `events:` list; codes are 4-digit strings.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from edge.config.base import Section


class EventType(Section):
    code: str = Field(description="4-digit event code, e.g. '0505'")
    name: str = Field(description="human name as the platform shows it")
    major_code: str = Field("", description="major class code; defaults to the first two digits")
    default_classes: list[str] = Field(
        default_factory=list, description="detector classes that suggest this event by default"
    )

    @field_validator("code")
    @classmethod
    def _four_digits(cls, value: str) -> str:
        if not (len(value) == 4 and value.isdigit()):
            raise ValueError(f"event code must be 4 digits like '0505', got {value!r}")
        return value

    def model_post_init(self, _context: object) -> None:
        if not self.major_code:
            object.__setattr__(self, "major_code", self.code[:2])


DEFAULT_EVENTS: tuple[EventType, ...] = (
    EventType(code="0102", name="暴露垃圾 exposed garbage", default_classes=[]),
    EventType(code="0103", name="积存垃圾渣土 accumulated garbage and muck", default_classes=[]),
    EventType(
        code="0501", name="无照经营游商 unlicensed mobile vendor", default_classes=["person", "umbrella"]
    ),
    EventType(
        code="0504",
        name="店外经营 out-of-store operation",
        default_classes=["dining table", "chair", "bench"],
    ),
    EventType(
        code="0505",
        name="机动车乱停放 motor vehicle parked illegally",
        default_classes=["car", "truck", "bus"],
    ),
    EventType(
        code="0506",
        name="非机动车乱停放 bicycles parked disorderly",
        default_classes=["bicycle", "motorcycle"],
    ),
    EventType(code="0507", name="乱堆物料 piled materials", default_classes=["suitcase"]),
    EventType(code="0511", name="沿街晾挂 laundry hung along the street", default_classes=[]),
)
