"""The case engine: applies the rule and lifecycle decisions to each analysed frame of one camera.

Per (zone, rule) it keeps a `RuleState` (places being timed, open cases, cooldowns). A frame goes
through four stages, each a module: the rules are stepped (`stepping`: sightings and decisions,
giving case events), the events become messages (`messages.Composer`), the messages and the
changed state are shaped into one store write (`records`), and the `CaseStore` commits it in one
transaction. It sees detections that the pipeline's tracker has already given ids; the ids are one
signal, never the key of a violation. Verification on request is `verify`'s; verdicts `judging`'s.

The hand-off to the outbox: the messages are committed with the state change that caused them, and
stay `pending_messages()` until the runtime reports them `handed_off()`. After a crash the runtime
re-puts the pending ones; their ids ("{case_id}:{seq}") are deterministic, so the outbox keeps one copy.
A frame the store refuses (disk full) leaves the engine at the state the store holds, so no case
sequence number ever runs ahead of the messages stored with it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np

from edge.cases.clock import CaseClock
from edge.cases.comeback import Comeback, Comebacks
from edge.cases.judging import judge
from edge.cases.messages import Composer, Facts
from edge.cases.privacy import Redactor, bystanders
from edge.cases.records import frame_changes, stored_rules, verification_changes
from edge.cases.rulebook import RuleBook, RuleKey
from edge.cases.rules import CompiledRule, model_versions, models_for
from edge.cases.sightings import FirstSightings
from edge.cases.snapshot import CaseSnapshot, camera_snapshot
from edge.cases.stepping import RuleStepper, Stepped
from edge.cases.store import CaseStore, StoreError
from edge.cases.suppress import Suppressions
from edge.cases.verdicts import VerdictRecord, VerdictRequest
from edge.cases.verify import Verification, answer_picture, next_seq, sees, verification_body
from edge.config import CameraConfig, ConfigError, EdgeConfig
from edge.types import CaseMessage, Detections, Frame


class CaseEngine:
    """Rules, dedup and lifecycle for one camera; `process()` per analysed frame, in media-time order."""

    def __init__(
        self,
        config: EdgeConfig,
        camera_id: str,
        store: CaseStore,
        class_names: dict[str, list[str]],
        zone_version: int = 1,
    ) -> None:
        cameras = {c.id: c for c in config.cameras}
        if camera_id not in cameras:
            raise ConfigError(f"no camera {camera_id!r} in the config; cameras: {sorted(cameras)}")
        self._store = store
        self._names = class_names
        self._events = {e.code: e for e in config.events}
        self._facts = Facts(
            worker_id=config.worker.id,
            source_label=config.platform.source_label,
            camera=cameras[camera_id],
            model_versions=model_versions(config),
            max_kb=config.storage.evidence_max_kb,
        )
        self._clock = CaseClock(store.clock(camera_id))
        privacy = config.evidence.privacy
        self._composer = Composer(Redactor(privacy) if privacy.enabled else None)
        self._first = FirstSightings(store, self._composer.redactor)
        self._suppressions = Suppressions(store, camera_id)  # objects the platform rejected (suppress.py)
        self._suppress_days = config.verdicts.suppress_days
        self._book = RuleBook(self._events, class_names, self._first)
        self._comebacks = Comebacks(self._book, lambda case_id: stored.seq if (stored := store.case(case_id)) else 0)
        self._stepper = RuleStepper(self._book, self._clock, self._first, self._suppressions, self._comebacks)
        self._latest: Frame | None = None  # the last processed frame: a patrol visit clears with it
        self._checkpoint_s = config.storage.state_checkpoint_s
        self._next_checkpoint = -np.inf  # case clock of the next write of timers alone
        self._book.install(cameras[camera_id], zone_version, self._stored_rules())

    def _stored_rules(self) -> dict[RuleKey, CompiledRule]:
        return stored_rules(self._store, self._facts.camera.id, self._events, self._names)

    def timing_candidates(self) -> bool:
        """True while any rule is timing a place that has no case yet (its camera gets inference priority)."""
        return self._book.timing_candidates()

    def snapshot(self) -> CaseSnapshot:
        """Every rule's timers and open cases (for the API and annotated video)."""
        suppressed = tuple(self._suppressions.views())
        rules, version = self._book.rules.values(), self._book.zone_version
        return camera_snapshot(self._facts.camera, rules, version, self._clock.now, suppressed)

    @property
    def model_ids(self) -> list[str]:
        """Models the camera's enabled rules need (static_object rules count the scene model's objects)."""
        return models_for(self._facts.camera)

    @property
    def suppressions(self) -> Suppressions:
        """The camera's rejected objects: listed, removed, invalidated by a re-aim."""
        return self._suppressions

    # ----------------------------------------------------------------- configuration
    def reload(self, camera_cfg: CameraConfig, zone_version: int) -> None:
        """Apply edited zones/rules between frames; unchanged rules keep their timers and cases.

        A changed rule keeps its open cases (they clear if the object is no longer seen) but restarts
        its candidate timers; the open cases of a removed rule are cleared at the next frame.
        """
        if camera_cfg.id != self._facts.camera.id:
            raise ConfigError(f"reload for camera {camera_cfg.id!r} sent to the engine of {self._facts.camera.id!r}")
        self._book.install(camera_cfg, zone_version, dict(self._book.rules))
        self._write_soon()
        self._facts = dataclasses.replace(self._facts, camera=camera_cfg)

    def end_candidates(self) -> None:
        """The view changed (a scene cut, a preset switch, a re-aim): no dwell may span it.

        Every place still timing is dropped; open cases keep their places and clear as usual
        once their object is no longer seen.
        """
        self._book.end_candidates()
        self._write_soon()
        self._suppressions.invalidate()  # a remembered place no longer shows the same thing

    def end_case(self, case_id: str, reason: str) -> None:
        """Clear an open case on the next frame: its object was replaced (another plate at its place).

        The object now standing there loses the case's place and is timed afresh as a new candidate."""
        self._stepper.end_case(case_id, reason)
        self._write_soon()

    def comebacks(self) -> list[Comeback]:
        """Plate rules' cases cleared less than `re_report_s` ago, each with the candidates at its place now."""
        return self._comebacks.candidates(self._clock.now)

    def rejoin(self, case_id: str, place_key: str) -> None:
        """The candidate at `place_key` carries the plate of cleared case `case_id`: when it confirms, that
        case reopens (an "update") instead of a new case opening (edge/cases/comeback.py)."""
        self._comebacks.mark(case_id, place_key)
        self._write_soon()

    def identify(self, case_id: str, plate: str) -> None:
        """The plate stage read `plate` on the case's messages: stored with the case, so its identity
        (another plate at its place, the same plate back after it cleared) survives a restart."""
        self._comebacks.identify(case_id, plate)
        self._write_soon()

    # ----------------------------------------------------------------- per frame
    def process(
        self, frame: Frame, detections: dict[str, Detections], static_objects: Detections | None = None
    ) -> list[CaseMessage]:
        """Advance every rule by one analysed frame; returns new/update/cleared messages, in order.

        The messages are stored with the state change; hand them to the outbox, then `handed_off()`.
        Raises StoreError when the store cannot take the frame; the engine is then back at the stored state.
        """
        now = self._clock.tick(frame)
        self._suppressions.expire(now)
        seen = bystanders(detections, self._names) if self._composer.redactor is not None else None
        stepped = self._stepper.frame(self._facts, frame, now, detections, static_objects, seen)
        messages = self._composer.messages(self._facts, frame, now, stepped.events, seen)
        self._latest = frame
        return self._commit(stepped, messages, now)

    def _commit(
        self, stepped: Stepped, messages: list[CaseMessage], now: float, force: bool = False
    ) -> list[CaseMessage]:
        """Store the changes with their messages in one transaction; on failure, back to the stored state.

        A frame that only moved timers (no message, no settled first-seen picture) is written with the
        next checkpoint instead (`storage.state_checkpoint_s`): encoding every place of every rule each
        frame was about a third of a camera's pipeline time. A crash then loses at most that much of the
        candidates' progress; the store always holds one consistent earlier state, and never a
        message without the state that caused it."""
        clock = self._clock.now if self._clock.now is not None else now
        if not (force or messages or stepped.pictures) and clock < self._next_checkpoint:
            return messages
        changes = frame_changes(self._facts.camera.id, clock, self._book, stepped.events, messages, stepped.pictures)
        try:
            self._store.save(self._facts.camera.id, changes)
        except StoreError:
            self._book.roll_back(self._facts.camera, self._stored_rules())
            raise
        self._book.committed()
        self._next_checkpoint = clock + self._checkpoint_s
        return messages

    def _write_soon(self) -> None:
        """What was decided outside the frames (an edit, a view change, a plate's word) is written with
        the next frame, not the next checkpoint: a restart must not undo a decision."""
        self._next_checkpoint = -np.inf

    def checkpoint(self) -> None:
        """Write the timers now (the camera is closing). Raises StoreError like `process`."""
        if self._clock.now is not None:
            self._commit(Stepped(), [], self._clock.now, force=True)

    # ----------------------------------------------------------------- patrol visits
    def begin_visit(self, resumed: bool = False) -> None:
        """A patrol visit starts: until `end_visit`, the gap since the last visit is not absence.

        `resumed`: no visit saw the camera since the last one that did (failures, a restart)."""
        self._clock.begin_visit(resumed)

    def decision_due(self) -> float | None:
        """The earliest clock value at which a rule could confirm a candidate or clear a case (a patrol
        camera is visited then); None when nothing is timed."""
        return self._book.decision_due()

    def end_visit(self) -> list[CaseMessage]:
        """The visit has looked: what it did not see has been absent since its last sighting, the gap
        between visits included. Drops candidates and clears cases (with the visit's last picture) on that.

        Raises StoreError like `process`."""
        frame, now = self._latest, self._clock.now
        self._latest = None  # a patrol camera holds no pixels between visits (the next visit brings its own)
        if frame is None or now is None or self._clock.visit_started > now:
            return []  # the visit analysed no picture: it saw nothing, so it proves no absence
        stepped = self._stepper.absences(self._facts, frame, now)
        messages = self._composer.messages(self._facts, frame, now, stepped.events, None)
        messages = self._commit(stepped, messages, now, force=True)  # the store holds every visit's end
        self._first.pack()  # what waits for the next visit waits small
        return messages

    def pending_messages(self) -> list[CaseMessage]:
        """Messages `process()` emitted that are not yet `handed_off()`, in emission order."""
        return self._store.pending(self._facts.camera.id)

    def handed_off(self, message_ids: Sequence[str]) -> None:
        """The outbox holds these messages durably: stop keeping them here."""
        self._store.acknowledge(message_ids)

    # ----------------------------------------------------------------- verification on request
    def knows(self, case_id: str) -> bool:
        """A case of this camera the store holds: open, or cleared and kept."""
        stored = self._store.case(case_id)
        return stored is not None and stored.camera_id == self._facts.camera.id

    def sees(
        self, case_id: str, frame: Frame, detections: dict[str, Detections], static_objects: Detections | None
    ) -> np.ndarray | None:
        """Boxes of this frame showing the case's object still at its place, in its zone as configured now
        (`verify.sees`). Empty: not seen; None: the case's rule no longer exists."""
        stored = self._store.case(case_id)
        r = None if stored is None else self._book.rules.get((stored.zone_id, stored.rule_id))
        if r is None or stored is None:
            return None
        return sees(r, stored, frame, r.detections(detections, static_objects))

    def verified(
        self,
        answer: Verification,
        frame: Frame | None,
        seen: np.ndarray,
        detections: dict[str, Detections] | None = None,
    ) -> CaseMessage:
        """Store the answer as the case's next message (an open case's seq moves on with it) and return it.

        `detections`: the frame's, so its bystanders are blurred in the picture when privacy is on."""
        case_id = answer.request.case_id
        stored = self._store.case(case_id)
        if stored is None:
            raise KeyError(case_id)
        r = self._book.rules.get((stored.zone_id, stored.rule_id))
        case = r.state.cases.get(case_id) if r is not None else None
        with next_seq(case, stored) as seq:
            evidence = []
            if frame is not None and r is not None:
                people = bystanders(detections or {}, self._names) if self._composer.redactor is not None else None
                evidence.append(
                    answer_picture(
                        self._composer,
                        self._facts,
                        r,
                        frame,
                        answer=answer,
                        stored=stored,
                        seen=seen,
                        seq=seq,
                        people=people,
                    )
                )
            body = verification_body(stored.body, seq, answer, frame, evidence)
            msg = CaseMessage(case_id, seq, "verification", body, {p.name: p.jpeg for p in evidence})
            clock = self._clock.now if self._clock.now is not None else time.time()
            self._store.save(
                self._facts.camera.id, verification_changes(clock, stored, msg, r if case is not None else None)
            )
        return msg

    # ----------------------------------------------------------------- the platform's verdicts
    def judge(self, case_id: str, request: VerdictRequest) -> tuple[VerdictRecord, bool]:
        """Store the platform's verdict on a case of this camera (edge/cases/judging.py); (verdict, retried)."""
        stored = self._store.case(case_id)
        r = None if stored is None else self._book.rules.get((stored.zone_id, stored.rule_id))
        places = None if r is None else (r.spec.rule.kind, r.state.places.subset(r.state.places.case == case_id))
        return judge(
            store=self._store,
            suppressions=self._suppressions,
            camera_id=self._facts.camera.id,
            case_id=case_id,
            request=request,
            case_places=places,
            now=self._clock.now if self._clock.now is not None else time.time(),
            days=self._suppress_days,
        )
