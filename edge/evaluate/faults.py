"""Match the device faults a replay reported to the expected faults of its ground truth (pure functions).

A device fault is one message stream (edge.runtime.faults): `new` when the view goes bad,
`update` when the kind changes, `cleared` when it is back. A reported fault *fits* an expected
one when the camera agrees and the expected kind is among the kinds it reported; it is *on time*
when its `new` message lies inside the item's window. Matching is one-to-one and maximal, earliest
faults first. Every fault left over is **spurious** (a ticket for the device desk that nobody
needed), and says why:

- **duplicate**: an item of its kind whose window holds its opening already has a fault (the
  fault flickered off and on again);
- **wrong kind**: an item's window holds its opening, but of another kind (a covered lens
  reported as moved);
- **late** / **early**: it fits an unmatched item of its kind but opened outside the window;
- **unexpected**: no item explains it.

Every expected fault without a match is **missed**.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.evaluate.match import maximal_matching, window_gap
from edge.evaluate.truth import ExpectedFault
from edge.types import CaseMessage

SpuriousKind = Literal["duplicate", "wrong kind", "late", "early", "unexpected"]


@dataclass(frozen=True, slots=True)
class ObservedFault:
    """What evaluation needs from one device fault's messages."""

    case_id: str
    camera: str
    kinds: tuple[str, ...]  # the kinds it reported while active, first (its `new`) first
    opened_s: float  # media seconds of its `new` message
    cleared_s: float | None = None  # media seconds of its `cleared` message; None while still active


def observed_faults(messages: Iterable[CaseMessage]) -> list[ObservedFault]:
    """One entry per device fault that opened in `messages`, in order of opening; street cases are ignored."""
    streams: dict[str, list[CaseMessage]] = {}
    for message in messages:
        if message.is_device_fault:
            streams.setdefault(message.case_id, []).append(message)
    out = []
    for case_id, stream in streams.items():
        stream.sort(key=lambda m: m.seq)
        opening = next((m for m in stream if m.kind == "new"), None)
        if opening is None:  # opened before these messages began: nothing to score
            continue
        active = [m.body["fault"]["kind"] for m in stream if m.kind != "cleared"]
        kinds = tuple(dict.fromkeys(active))
        cleared = next((float(m.body["time_media_s"]) for m in stream if m.kind == "cleared"), None)
        camera = opening.body["camera"]["id"]
        out.append(ObservedFault(case_id, camera, kinds, float(opening.body["time_media_s"]), cleared))
    return sorted(out, key=lambda f: (f.opened_s, f.case_id))


@dataclass(frozen=True, slots=True)
class FaultMatch:
    expected: ExpectedFault
    fault: ObservedFault

    @property
    def latency_s(self) -> float:
        """Time to report: the fault's opening minus the start of the expected window."""
        return self.fault.opened_s - self.expected.window[0]


@dataclass(frozen=True, slots=True)
class SpuriousFault:
    fault: ObservedFault
    kind: SpuriousKind
    near: ExpectedFault | None = None  # the item it was closest to explaining

    @property
    def reported(self) -> str:
        """The kind the fault was first reported as."""
        return self.fault.kinds[0]


@dataclass
class FaultOutcome:
    """The result of matching one clip's device faults to its expected faults."""

    matches: list[FaultMatch] = field(default_factory=list)
    spurious: list[SpuriousFault] = field(default_factory=list)
    misses: list[ExpectedFault] = field(default_factory=list)


def match_faults(expected: Sequence[ExpectedFault], faults: Sequence[ObservedFault]) -> FaultOutcome:
    """Match one clip's faults to its expected faults and say why each other fault is spurious."""
    shape = (len(expected), len(faults))
    camera = np.array([[e.camera == f.camera for f in faults] for e in expected], bool).reshape(shape)
    kind = np.array([[e.kind in f.kinds for f in faults] for e in expected], bool).reshape(shape)
    gap = window_gap((e.window for e in expected), (f.opened_s for f in faults))
    fits = camera & kind
    order = np.arange(len(faults))  # already in order of opening
    preference = np.argsort(gap, axis=0, kind="stable")  # per fault: nearest window first
    owner = maximal_matching(fits & (gap == 0), order, preference)
    taken = set(owner.values())
    outcome = FaultOutcome(
        matches=[FaultMatch(expected[e], faults[owner[e]]) for e in sorted(owner, key=lambda e: owner[e])],
        misses=[item for e, item in enumerate(expected) if e not in owner],
    )
    for f, fault in enumerate(faults):
        if f in taken:
            continue
        inside = [e for e in preference[:, f].tolist() if camera[e, f] and gap[e, f] == 0]
        unmatched = [e for e in preference[:, f].tolist() if fits[e, f] and e not in owner]
        if any(kind[e, f] for e in inside):
            near = next(e for e in inside if kind[e, f])
            outcome.spurious.append(SpuriousFault(fault, "duplicate", expected[near]))
        elif inside:
            outcome.spurious.append(SpuriousFault(fault, "wrong kind", expected[inside[0]]))
        elif unmatched:
            near_item = expected[unmatched[0]]
            late: SpuriousKind = "late" if fault.opened_s > near_item.window[1] else "early"
            outcome.spurious.append(SpuriousFault(fault, late, near_item))
        else:
            outcome.spurious.append(SpuriousFault(fault, "unexpected"))
    return outcome
