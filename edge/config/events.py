"""The city event taxonomy (CJ/T 214 lineage) and the default detector-class mapping.

The config's `events:` list is the table a worker uses; it defaults to DEFAULT_EVENTS. A city
renames entries, adds codes, or changes which detector classes suggest an event (a rule without
`classes` counts its event's `default_classes`). `merge_events` lets a config list only the entries
it changes. Codes are 4-digit strings: two digits of major class + two of minor class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from edge.config.base import Section


def _quoted(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"event code must be quoted like '0505' (YAML reads 0505 as {0o505}), got {value}")
    return value


def _four_digits(value: str) -> str:
    if not (len(value) == 4 and value.isdigit()):
        raise ValueError(f"event code must be 4 digits like '0505', got {value!r}")
    return value


Severity = Literal["urgent", "normal", "routine"]
"""How fast the platform should act: urgent (a safety hazard, flagged at once), normal, routine (the reporter or
a patrol handles it). Every message carries it so the platform routes without re-deriving it."""

EventCode = Annotated[str, BeforeValidator(_quoted), AfterValidator(_four_digits)]
"""A CJ/T 214 event code: four digits, as a string (an unquoted 0505 in YAML is an octal number)."""


class EventType(Section):
    code: EventCode = Field(description="4-digit event code, e.g. '0505' (major class 05, minor class 05)")
    name: str = Field(min_length=1, max_length=200, description="human name as the platform shows it")
    major_code: str = Field(default="", description="2-digit major class code; defaults to the code's first two digits")
    major_name: str = Field(default="", max_length=200, description="major class name, e.g. '街面秩序 street order'")
    default_classes: list[str] = Field(
        default_factory=list,
        description="detector classes that suggest this event: a rule without 'classes' counts these",
    )
    severity: Severity = Field(
        default="normal",
        description="default severity of this event's cases (urgent / normal / routine); a rule may override it",
    )

    @field_validator("default_classes")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or not all(value):
            raise ValueError(f"default_classes must be distinct, non-empty class names, got {value}")
        return value

    @model_validator(mode="after")
    def _major(self) -> EventType:
        if not self.major_code:
            object.__setattr__(self, "major_code", self.code[:2])
        elif self.major_code != self.code[:2]:
            raise ValueError(f"major_code {self.major_code!r} must be the first two digits of code {self.code!r}")
        return self


_GARBAGE = "市容环境 city appearance"
_STREET = "街面秩序 street order"
DEFAULT_EVENTS: tuple[EventType, ...] = (
    EventType(code="0102", name="暴露垃圾 exposed garbage", major_name=_GARBAGE),
    EventType(code="0103", name="积存垃圾渣土 accumulated garbage and muck", major_name=_GARBAGE),
    EventType(
        code="0501",
        name="无照经营游商 unlicensed mobile vendor",
        major_name=_STREET,
        default_classes=["person", "umbrella"],
        severity="routine",
    ),
    EventType(
        code="0504",
        name="店外经营 out-of-store operation",
        major_name=_STREET,
        default_classes=["dining table", "chair", "bench"],
        severity="routine",
    ),
    EventType(
        code="0505",
        name="机动车乱停放 motor vehicle parked illegally",
        major_name=_STREET,
        default_classes=["car", "truck", "bus"],
    ),
    EventType(
        code="0506",
        name="非机动车乱停放 bicycles parked disorderly",
        major_name=_STREET,
        default_classes=["bicycle", "motorcycle"],
        severity="routine",
    ),
    EventType(code="0507", name="乱堆物料 piled materials", major_name=_STREET, default_classes=["suitcase"]),
    EventType(code="0511", name="沿街晾挂 laundry hung along the street", major_name=_STREET, severity="routine"),
)


def merge_events(changes: Iterable[EventType], base: Iterable[EventType] = DEFAULT_EVENTS) -> list[EventType]:
    """The base table with `changes` applied: an entry with a known code replaces it, a new code is added."""
    table = {e.code: e for e in base}
    for event in changes:
        table[event.code] = event
    return sorted(table.values(), key=lambda e: e.code)


def event_classes(event: EventType, classes: Iterable[str]) -> list[str]:
    """The classes a rule counts: its own, or else its event's defaults (the overridable mapping)."""
    return sorted(set(classes)) or list(event.default_classes)
