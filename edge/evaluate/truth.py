"""Ground truth: the cases a recorded clip should produce, written by a tester (docs/testing.md).

One YAML file per clip names the clip (relative to the file), the camera whose zones and rules
apply, and the expected cases: event code, zone, the window of media seconds in which the case
should open and, optionally, where the object stands (a normalised box with an IoU or centre
distance tolerance). Optionally it lists the device faults (a moved, covered or blurred camera)
that should be reported, each with its kind and window. Every problem is reported as one
`TruthError` naming the file and field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.config.events import EventCode
from edge.config.load import format_validation_error, read_yaml

DEFAULT_MIN_IOU = 0.3  # a box without a tolerance must overlap the case's box this much
_ID = r"^[A-Za-z0-9_.:@-]{1,64}$"
FaultKind = Literal["moved", "covered", "blurred"]  # what the tamper detector reports (edge.scene.tamper)


class TruthError(Exception):
    """A ground-truth file problem a tester can fix; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _media_window(value: tuple[float, float]) -> tuple[float, float]:
    start, end = value
    if not (0 <= start <= end < math.inf):  # also rejects NaN
        raise ValueError(f"window must be [from, to] media seconds with 0 <= from <= to, got {list(value)}")
    return value


class ExpectedCase(_Strict):
    """One case the clip should produce."""

    id: str = Field(pattern=_ID, description="name in reports; default item-<n>")
    camera: str = Field(default="", description="camera id; default: the file's camera")
    event: EventCode = Field(description="4-digit event code, e.g. '0505'")
    zone: str = Field(min_length=1, description="zone id in the camera's config")
    window: tuple[float, float] = Field(
        description="[from, to] media seconds: the case should open (be confirmed) in this window; "
        "latency is measured from `from`, so set it where the violation starts"
    )
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="approximate [x1, y1, x2, y2] of the object, normalised 0..1 of the frame"
    )
    min_iou: float | None = Field(default=None, gt=0.0, le=1.0, description="box match: IoU at least this")
    max_centre_distance: float | None = Field(
        default=None,
        gt=0.0,
        le=1.5,
        description="box match: box centres at most this far apart, in frame widths/heights",
    )
    note: str = Field(default="", max_length=500, description="what the tester sees there")
    detector_false_positive: bool = Field(
        default=False,
        description="the detector sees something that is not there (a stone read as a person): the rule rightly "
        "opens a case on that input, so it is expected; `edge eval --verdicts marked` has the platform reject it "
        "(false_alarm, wrong_object) and replays again, where it must not open",
    )

    _window = field_validator("window")(_media_window)

    @field_validator("box")
    @classmethod
    def _box(cls, value: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if value is None:
            return value
        x1, y1, x2, y2 = value
        if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
            raise ValueError(f"box must be [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1, got {value}")
        return value

    @model_validator(mode="after")
    def _tolerance(self) -> ExpectedCase:
        if self.min_iou is not None and self.max_centre_distance is not None:
            raise ValueError("give either min_iou or max_centre_distance, not both")
        if self.box is None and (self.min_iou is not None or self.max_centre_distance is not None):
            raise ValueError("min_iou / max_centre_distance need a box")
        return self

    @property
    def iou_needed(self) -> float | None:
        """The IoU a case's box needs; None when the box is matched by centre distance (or not at all)."""
        if self.box is None or self.max_centre_distance is not None:
            return None
        return DEFAULT_MIN_IOU if self.min_iou is None else self.min_iou


class ExpectedFault(_Strict):
    """One device fault the clip should produce: the camera's view goes bad in a known way."""

    id: str = Field(pattern=_ID, description="name in reports; default fault-<n>")
    camera: str = Field(default="", description="camera id; default: the file's camera")
    kind: FaultKind = Field(description="moved (re-aimed, shifted), covered or blurred")
    window: tuple[float, float] = Field(
        description="[from, to] media seconds: the fault should be reported (its `new` message) in this window; "
        "set `from` where the view goes bad and leave room for the confirmation (`scene.tamper_confirm_s`)"
    )
    note: str = Field(default="", max_length=500, description="what the tester sees there")

    _window = field_validator("window")(_media_window)


def _named(prefix: str, value: object) -> object:
    """Unnamed items are called <prefix>-<n> (1-based), so reports can point at them."""
    if not isinstance(value, list):
        return value
    return [
        {**item, "id": f"{prefix}-{n}"} if isinstance(item, dict) and not item.get("id") else item
        for n, item in enumerate(value, 1)
    ]


class TruthFile(_Strict):
    """The file as written: which clip, which camera, which cases."""

    version: Literal[1] = Field(default=1, description="format version")
    clip: str = Field(min_length=1, description="video file, relative to this file")
    camera: str = Field(default="", description="camera whose zones and rules apply; default: the config's first")
    note: str = Field(default="", max_length=2000, description="what the clip shows")
    expected: list[ExpectedCase] = Field(
        default_factory=list, description="cases that should open; empty = no case should open"
    )

    faults: list[ExpectedFault] | None = Field(
        default=None,
        description="device faults that should be reported; leave out to not score faults, "
        "an empty list = no fault should be reported",
    )

    @field_validator("expected", mode="before")
    @classmethod
    def _default_ids(cls, value: object) -> object:
        return _named("item", value)

    @field_validator("faults", mode="before")
    @classmethod
    def _default_fault_ids(cls, value: object) -> object:
        return _named("fault", value)

    @model_validator(mode="after")
    def _unique_ids(self) -> TruthFile:
        ids = [item.id for item in self.expected] + [fault.id for fault in self.faults or []]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"expected case and fault ids must be unique, repeated: {repeated}")
        return self


class Truth(_Strict):
    """A loaded ground-truth file: its contents plus where it and its clip are."""

    path: Path
    clip: Path
    spec: TruthFile

    @property
    def name(self) -> str:
        """Short name for output files: 'vtest' for vtest.truth.yaml."""
        stem = self.path.name
        for suffix in (".yaml", ".yml", ".truth"):
            stem = stem.removesuffix(suffix)
        return stem or "truth"

    def for_camera(self, default_camera: str) -> list[ExpectedCase]:
        """The expected cases with their camera filled in (the file's, else `default_camera`)."""
        return _with_camera(self.spec.expected, self.spec.camera or default_camera)

    def faults_for_camera(self, default_camera: str) -> list[ExpectedFault] | None:
        """The expected faults with their camera filled in; None when the file does not score faults."""
        if self.spec.faults is None:
            return None
        return _with_camera(self.spec.faults, self.spec.camera or default_camera)


Item = TypeVar("Item", ExpectedCase, ExpectedFault)


def _with_camera(items: list[Item], camera: str) -> list[Item]:
    return [item if item.camera else item.model_copy(update={"camera": camera}) for item in items]


def load_truth(path: str | Path) -> Truth:
    """Read and validate one ground-truth file; the clip must exist."""
    path = Path(path)
    data = read_yaml(path, "ground-truth file", TruthError)
    if not isinstance(data, dict):
        raise TruthError(f"{path}: expected a mapping with 'clip' and 'expected', got {type(data).__name__}")
    try:
        spec = TruthFile.model_validate(data)
    except ValidationError as exc:
        raise TruthError(f"{path} is invalid:\n{format_validation_error(exc)}") from None
    clip = (path.resolve().parent / spec.clip).resolve()
    if not clip.is_file():
        raise TruthError(f"{path}: clip {spec.clip!r} not found (looked for {clip})")
    return Truth(path=path, clip=clip, spec=spec)
