"""Rule state: the places a rule is timing (as parallel arrays) and its open cases.

Dwell is keyed to a *place in the zone*, not to a tracker id: a place is where a qualifying object
(or group, or the whole zone for count/occupancy rules) was first seen, and later sightings are
matched to it by position and overlap. An id switch or a missed detection therefore never splits a
violation. All of it serialises to JSON so a restarted worker resumes the same timers and cases.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edge.cases.appearance import SIZE
from edge.cases.lifecycle import Phase


@dataclass
class Places:
    """Parallel arrays, one row per place; `ref` is the running-mean box the place is matched against."""

    key: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    ref: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    first_seen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    last_seen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    first_media: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    last_media: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    hits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # latest tracker id, -1 none
    case: np.ndarray = field(default_factory=lambda: np.zeros(0, object))  # "" while a candidate
    pictured: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # first-seen picture stored
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # analysed frames since first seen
    look: np.ndarray = field(default_factory=lambda: np.zeros((0, SIZE), np.float32))  # appearance; NaN unknown

    @property
    def presence(self) -> np.ndarray:
        """Share of the analysed frames since first sighting in which the place's own object was seen."""
        return self.hits / np.maximum(self.frames, 1)

    def __len__(self) -> int:
        return int(self.key.shape[0])

    @property
    def attached(self) -> np.ndarray:
        return self.case != ""

    def subset(self, mask: np.ndarray) -> Places:
        return Places(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    def append(self, other: Places) -> Places:
        return Places(
            **{name: np.concatenate([getattr(self, name), getattr(other, name)]) for name in self.__dataclass_fields__}
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: getattr(self, name).tolist() for name in self.__dataclass_fields__ if name != "look"
        }
        # the signatures are most of a busy rule's state: float16 bytes in base64 (NaN kept), not JSON numbers
        out["look"] = base64.b64encode(self.look.astype("<f2").tobytes()).decode("ascii")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Places:
        out = cls()
        n = len(data.get("key", []))
        # state saved before presence and appearance were kept: every sighting counted, look unknown
        columns = {"frames": data.get("hits", []), "look": ""} | data
        for name in cls.__dataclass_fields__:
            template = getattr(out, name)
            values = columns.get(name, [])
            if name in ("key", "label", "case"):
                column = np.array(values, dtype=object).reshape(n)
            elif name == "look":
                column = _looks(values, n)
            else:
                column = np.asarray(values, dtype=template.dtype).reshape((n, *template.shape[1:]))
            setattr(out, name, column)
        return out


def _looks(encoded: str, n: int) -> np.ndarray:
    """Signatures as `Places.to_json` wrote them; unknown (NaN) when absent or of another version's size."""
    raw = np.frombuffer(base64.b64decode(encoded), "<f2") if encoded else np.zeros(0, "<f2")
    if raw.size != n * SIZE:
        return np.full((n, SIZE), np.nan, np.float32)
    return raw.astype(np.float32).reshape(n, SIZE)


@dataclass(kw_only=True)
class Case:
    """One open (or just cleared) case; clock values are engine-clock seconds (wall-anchored)."""

    case_id: str
    zone_version: int
    phase: Phase
    seq: int
    first_seen: float
    confirmed: float
    last_seen: float
    last_report: float
    first_media: float
    confirmed_media: float
    label: str
    score: float
    box: list[float]
    repeat_count: int = 1
    cleared: float | None = None
    updated: float | None = None
    plate: str | None = None  # plate rules: the plate its messages reported (the case is that vehicle)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(**{**data, "phase": Phase(data["phase"])})


@dataclass(kw_only=True)
class Departed:
    """A plate rule's case cleared because its vehicle left, kept until `until` (engine clock): the
    same plate back at its place before then reopens it (edge/cases/comeback.py)."""

    case: Case  # as it was cleared
    until: float

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case.to_json(), "until": self.until}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Departed:
        return cls(case=Case.from_json(data["case"]), until=float(data["until"]))


@dataclass
class RuleState:
    """Everything one (zone, rule) remembers between frames and across restarts."""

    places: Places = field(default_factory=Places)
    cases: dict[str, Case] = field(default_factory=dict)
    cooldown_box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    cooldown_until: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    parts: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))  # last frame's counted boxes
    departed: dict[str, Departed] = field(default_factory=dict)  # plate rules' cleared cases, by case id
    returning: dict[str, str] = field(default_factory=dict)  # candidate place key -> departed case id of its plate

    def to_json(self) -> dict[str, Any]:
        return {
            "places": self.places.to_json(),
            "cases": [c.to_json() for c in self.cases.values()],
            "cooldown_box": self.cooldown_box.tolist(),
            "cooldown_until": self.cooldown_until.tolist(),
            "parts": self.parts.tolist(),
            "departed": [d.to_json() for d in self.departed.values()],
            "returning": self.returning,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleState:
        cases = [Case.from_json(c) for c in data.get("cases", [])]
        until = np.asarray(data.get("cooldown_until", []), np.float64).reshape(-1)
        return cls(
            places=Places.from_json(data.get("places", {})),
            cases={c.case_id: c for c in cases},
            cooldown_box=np.asarray(data.get("cooldown_box", []), np.float64).reshape(len(until), 4),
            cooldown_until=until,
            parts=np.asarray(data.get("parts", []), np.float64).reshape(-1, 4),
            departed={d.case.case_id: d for d in map(Departed.from_json, data.get("departed", []))},
            returning=dict(data.get("returning", {})),
        )
