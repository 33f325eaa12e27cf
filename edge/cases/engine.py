"""The case engine: applies the rule and lifecycle decisions to each analysed frame of one camera.

Per (zone, rule) it keeps a `RuleState` (places being timed, open cases, cooldowns), advances it
with the pure functions of `observe`, `places` and `lifecycle`, writes the changes to the `CaseStore`
in one transaction per frame and returns the messages for the outbox. It sees detections that the
pipeline's tracker has already given ids; the ids are one signal, never the key of a violation.

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
from typing import Any

import numpy as np

from edge.cases.appearance import SIZE, signatures
from edge.cases.clock import CaseClock
from edge.cases.contract import case_id_for
from edge.cases.evidence import Picture
from edge.cases.judging import judge
from edge.cases.lifecycle import Phase, advance, candidate_decisions, case_decision, gone, in_cooldown
from edge.cases.messages import Facts, Sighting, body, event_pictures, message, scene_picture
from edge.cases.observe import ZONE_LEVEL, Observation, match_places, observe, position_scores
from edge.cases.places import continuing, sight
from edge.cases.privacy import Bystanders, Redactor, bystanders
from edge.cases.rules import CompiledRule, compile_rule, config_json, model_versions, models_for
from edge.cases.schedule import schedule_active
from edge.cases.sightings import FirstSightings
from edge.cases.snapshot import CaseSnapshot, ZoneView, rule_view
from edge.cases.state import Case, Places, RuleState
from edge.cases.store import CaseRecord, CaseStore, FrameChanges, StoreError
from edge.cases.suppress import Suppressions
from edge.cases.verdicts import VerdictRecord, VerdictRequest
from edge.cases.verify import Verification, verification_body
from edge.config import CameraConfig, ConfigError, EdgeConfig, RuleConfig, ZoneConfig
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
            config.worker.id,
            config.platform.source_label,
            cameras[camera_id],
            model_versions(config),
            config.storage.evidence_max_kb,
        )
        self._clock = CaseClock(store.clock(camera_id))
        privacy = config.evidence.privacy
        self._redactor = Redactor(privacy) if privacy.enabled else None
        self._seen: Bystanders | None = None  # this frame's people and vehicles, when bystanders are blurred
        self._first = FirstSightings(store, self._redactor)
        self._rules: dict[tuple[str, str], CompiledRule] = {}
        self._orphans: list[CompiledRule] = []
        self._dropped_rules: list[tuple[str, str]] = []
        self._stale_owners: list[str] = []  # held pictures of candidates discarded by a config change
        self._ending: dict[str, str] = {}  # case id -> reason: cases to clear on the next frame (`end_case`)
        self._zone_version = zone_version
        self._suppressions = Suppressions(store, camera_id)  # objects the platform rejected (suppress.py)
        self._suppress_days = config.verdicts.suppress_days
        self._latest: Frame | None = None  # the last processed frame: a patrol visit clears with it
        self._install(cameras[camera_id], zone_version, self._stored_rules())

    def _stored_rules(self) -> dict[tuple[str, str], CompiledRule]:
        """The rules as the store last saved them, with their state (their config may be gone since)."""
        camera_id = self._facts.camera.id
        previous = {}
        for key, saved in self._store.rule_states(camera_id).items():
            zone = ZoneConfig.model_validate({**saved["config"]["zone"], "rules": []})
            rule = RuleConfig.model_validate(saved["config"]["rule"])
            old = compile_rule(camera_id, zone, rule, self._events, self._names, strict=False)
            old.state = RuleState.from_json(saved["state"])
            previous[key] = old
        return previous

    def timing_candidates(self) -> bool:
        """True while any rule is timing a place that has no case yet (its camera gets inference priority)."""
        return any((~r.state.places.attached).any() for r in self._rules.values())

    def snapshot(self) -> CaseSnapshot:
        """Every rule's timers and open cases (for the API and annotated video)."""
        now, zones = self._clock.now, {}
        for r in self._rules.values():
            rule = r.spec.rule
            active = rule.enabled and (now is None or schedule_active(rule.schedule, now, self._facts.camera.timezone))
            zones.setdefault(r.zone.id, (r.zone.name, []))[1].append(rule_view(r, now, active))
        return CaseSnapshot(
            camera_id=self._facts.camera.id,
            clock=now,
            zone_version=self._zone_version,
            zones=[ZoneView(zone_id, name, rules) for zone_id, (name, rules) in zones.items()],
            suppressed=tuple(self._suppressions.views()),
        )

    @property
    def model_ids(self) -> list[str]:
        """Models the camera's enabled rules need (static_object rules count the scene model's objects)."""
        return models_for(self._facts.camera)

    # ----------------------------------------------------------------- configuration
    def _install(self, camera: CameraConfig, zone_version: int, previous: dict[tuple[str, str], CompiledRule]) -> None:
        """Compile the camera's rules; carry over state of unchanged rules, open cases of changed ones."""
        rules = {}
        for zone in camera.zones:
            for rule in zone.rules:
                new = compile_rule(camera.id, zone, rule, self._events, self._names)
                old = previous.pop(new.key, None)
                if old is not None:
                    new.state = old.state
                    if old.fingerprint != new.fingerprint:  # timers measured under other conditions restart
                        stale = new.state.places.key[~new.state.places.attached]
                        self._first.forget(stale)
                        self._stale_owners.extend(stale.tolist())
                        new.state.places = new.state.places.subset(new.state.places.attached)
                rules[new.key] = new
        self._orphans.extend(old for old in previous.values() if old.state.cases)
        self._dropped_rules.extend(key for key in previous if key not in rules)
        self._rules = rules
        self._zone_version = zone_version
        self._facts = dataclasses.replace(self._facts, camera=camera)

    def reload(self, camera_cfg: CameraConfig, zone_version: int) -> None:
        """Apply edited zones/rules between frames; unchanged rules keep their timers and cases.

        A changed rule keeps its open cases (they clear if the object is no longer seen) but restarts
        its candidate timers; the open cases of a removed rule are cleared at the next frame.
        """
        if camera_cfg.id != self._facts.camera.id:
            raise ConfigError(f"reload for camera {camera_cfg.id!r} sent to the engine of {self._facts.camera.id!r}")
        self._install(camera_cfg, zone_version, dict(self._rules))

    def end_candidates(self) -> None:
        """The view changed (a scene cut, a preset switch, a re-aim): no dwell may span it.

        Every place still timing is dropped; open cases keep their places and clear as usual
        once their object is no longer seen.
        """
        for r in self._rules.values():
            places = r.state.places
            stale = places.key[~places.attached]
            if len(stale):
                self._first.forget(stale)
                self._stale_owners.extend(stale.tolist())
                r.state.places = places.subset(places.attached)
                r.dirty = True
        self._suppressions.invalidate()  # a remembered place no longer shows the same thing

    def end_case(self, case_id: str, reason: str) -> None:
        """Clear an open case on the next frame: its object was replaced (another plate at its place).

        The object now standing there loses the case's place and is timed afresh as a new candidate."""
        self._ending[case_id] = reason

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
        self._seen = bystanders(detections, self._names) if self._redactor is not None else None
        out = FrameChanges(drop_owners=self._stale_owners)
        messages: list[CaseMessage] = []
        for r in self._rules.values():
            if r.spec.rule.kind == "static_object":
                dets = static_objects if static_objects is not None else Detections.empty()
            else:
                dets = detections.get(r.spec.rule.model, Detections.empty())
            messages += self._step(r, frame, now, dets, out)
        for orphan in self._orphans:
            for case in list(orphan.state.cases.values()):
                messages.append(self._clear(orphan, case, frame, now, out, reason="rule_removed"))
        self._latest = frame
        return self._commit(out, now, messages)

    def _commit(self, out: FrameChanges, now: float, messages: list[CaseMessage]) -> list[CaseMessage]:
        """Store the changes with their messages in one transaction; on failure, back to the stored state."""
        out.clock = self._clock.now if self._clock.now is not None else now
        out.rule_states = {r.key: self._saved(r) for r in self._rules.values() if r.dirty}
        out.drop_rules = self._dropped_rules
        out.messages = messages
        try:
            self._store.save(self._facts.camera.id, out)
        except StoreError:
            self._roll_back()
            raise
        self._orphans, self._dropped_rules, self._stale_owners = [], [], []
        for r in self._rules.values():
            r.dirty = False
        return messages

    # ----------------------------------------------------------------- patrol visits
    def begin_visit(self, resumed: bool = False) -> None:
        """A patrol visit starts: until `end_visit`, the gap since the last visit is not absence.

        `resumed`: no visit saw the camera since the last one that did (failures, a restart)."""
        self._clock.begin_visit(resumed)

    def decision_due(self) -> float | None:
        """The earliest clock value at which a rule could confirm a candidate or clear a case (a patrol
        camera is visited then); None when nothing is timed."""
        times = []
        for r in self._rules.values():
            places, timing = r.state.places, r.timing
            waiting = ~places.attached
            if waiting.any():
                times.append(float((places.first_seen[waiting] + timing.min_duration_s).min()))
            times += [case.last_seen + timing.clear_after_s for case in r.state.cases.values()]
        return min(times, default=None)

    def end_visit(self) -> list[CaseMessage]:
        """The visit has looked: what it did not see has been absent since its last sighting, the gap
        between visits included. Drops candidates and clears cases (with the visit's last picture) on that.

        Raises StoreError like `process`."""
        frame, now = self._latest, self._clock.now
        if frame is None or now is None or self._clock.visit_started > now:
            return []  # the visit analysed no picture: it saw nothing, so it proves no absence
        out = FrameChanges(drop_owners=self._stale_owners)
        messages: list[CaseMessage] = []
        for r in self._rules.values():
            messages += self._step(r, frame, now, None, out, since=self._clock.watching_since)
        messages = self._commit(out, now, messages)
        self._first.pack()  # what waits for the next visit waits small
        return messages

    def _roll_back(self) -> None:
        """Go back to what the store holds: this frame's changes never happened (the clock keeps its time).

        Rules the store still holds but the config no longer has become orphans again, exactly as at start.
        """
        self._orphans, self._dropped_rules, self._stale_owners = [], [], []
        self._install(self._facts.camera, self._zone_version, self._stored_rules())
        for r in self._rules.values():
            r.dirty = True
        self._first.keep_only({str(k) for r in self._rules.values() for k in r.state.places.key})

    def pending_messages(self) -> list[CaseMessage]:
        """Messages `process()` emitted that are not yet `handed_off()`, in emission order."""
        return self._store.pending(self._facts.camera.id)

    def handed_off(self, message_ids: Sequence[str]) -> None:
        """The outbox holds these messages durably: stop keeping them here."""
        self._store.acknowledge(message_ids)

    # ----------------------------------------------------------------- verification on request
    def knows(self, case_id: str) -> bool:
        """A case of this camera the store holds: open, or cleared and kept."""
        record = self._store.case(case_id)
        return record is not None and record["camera_id"] == self._facts.camera.id

    def sees(
        self, case_id: str, frame: Frame, detections: dict[str, Detections], static_objects: Detections | None
    ) -> np.ndarray | None:
        """Boxes of this frame showing the case's object still at its place, in its zone as configured now.

        The dwell's own test (`places.continuing`): an open case is matched against its places' boxes and
        looks, a cleared one against its last box (no look kept). A zone-level case holds while its rule's
        condition holds. Empty: not seen; None: the case's rule no longer exists.
        """
        record = self._store.case(case_id)
        r = None if record is None else self._rules.get((record["zone_id"], record["rule_id"]))
        if r is None or record is None:
            return None
        rule = r.spec.rule
        if rule.kind == "static_object":
            dets = static_objects if static_objects is not None else Detections.empty()
        else:
            dets = detections.get(rule.model, Detections.empty())
        obs = observe(r.spec, dets, frame.width, frame.height, frame.media_time)
        if not len(obs) or obs.zone_level:
            return obs.parts.xyxy if len(obs) else np.zeros((0, 4))
        mine = r.state.places.case == case_id
        if mine.any():
            places = r.state.places.subset(mine)
        else:
            box = np.asarray([record["body"]["detection"]["box"]], np.float64)
            places = Places(ref=box, box=box.copy(), look=np.full((1, SIZE), np.nan, np.float32))
        measured = rule.kind != "static_object"  # scene objects carry their id
        looks = signatures(frame.image, obs.subjects) if measured else np.full((len(obs), SIZE), np.nan, np.float32)
        _, cols, _ = continuing(places, obs, looks, rule)
        return obs.xyxy[cols]

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
        record = self._store.case(case_id)
        if record is None:
            raise KeyError(case_id)
        r = self._rules.get((record["zone_id"], record["rule_id"]))
        case = r.state.cases.get(case_id) if r is not None else None
        seq = (case.seq if case is not None else int(record["seq"])) + 1
        evidence = []
        if frame is not None and r is not None:
            present = answer.verdict == "still_present"
            boxes = seen if present and len(seen) else np.asarray([record["body"]["detection"]["box"]])
            label = "still present" if present else answer.verdict.replace("_", " ")
            sighting = Sighting(boxes, [label] * len(boxes), np.zeros((0, 4)))
            name = f"{seq:02d}-verify.jpg"
            people = bystanders(detections or {}, self._names) if self._redactor is not None else None
            shown = self._shown(frame, boxes, people)
            evidence.append(
                scene_picture(self._facts, r.spec, shown, frame.wall_time, name, "verification", sighting, not present)
            )
        body_ = verification_body(record["body"], seq, answer, frame, evidence)
        msg = CaseMessage(case_id, seq, "verification", body_, {p.name: p.jpeg for p in evidence})
        zone_id, rule_id = record["zone_id"], record["rule_id"]
        row = CaseRecord(case_id, zone_id, rule_id, record["phase"], seq, record["opened"], record["updated"], body_)
        clock = self._clock.now if self._clock.now is not None else time.time()
        changes = FrameChanges(clock=clock, cases=[row], messages=[msg])
        if case is not None and r is not None:
            case.seq = seq
            changes.rule_states = {r.key: self._saved(r)}
        try:
            self._store.save(self._facts.camera.id, changes)
        except StoreError:
            if case is not None:
                case.seq = seq - 1
            raise
        return msg

    # ----------------------------------------------------------------- the platform's verdicts
    def judge(self, case_id: str, request: VerdictRequest) -> tuple[VerdictRecord, bool]:
        """Store the platform's verdict on a case of this camera (edge/cases/judging.py); (verdict, retried)."""
        record = self._store.case(case_id)
        r = None if record is None else self._rules.get((record["zone_id"], record["rule_id"]))
        places = None if r is None else (r.spec.rule.kind, r.state.places.subset(r.state.places.case == case_id))
        now = self._clock.now if self._clock.now is not None else time.time()
        camera_id, days = self._facts.camera.id, self._suppress_days
        return judge(self._store, self._suppressions, camera_id, case_id, request, places, now, days)

    @property
    def suppressions(self) -> Suppressions:
        """The camera's rejected objects: listed, removed, invalidated by a re-aim."""
        return self._suppressions

    def _saved(self, r: CompiledRule) -> dict[str, Any]:
        return {"config": config_json(r.zone, r.spec.rule), "state": r.state.to_json()}

    def _step(
        self,
        r: CompiledRule,
        frame: Frame,
        now: float,
        dets: Detections | None,
        out: FrameChanges,
        since: float | None = None,
    ) -> list[CaseMessage]:
        """One frame's sightings (none: `dets` None) and the decisions on them; absence counts from `since`."""
        rule, state, timing = r.spec.rule, r.state, r.timing
        since = self._clock.observed_since if since is None else since
        visit_started = self._clock.visit_started
        active = rule.enabled and schedule_active(rule.schedule, now, self._facts.camera.timezone)
        obs = (
            observe(r.spec, dets, frame.width, frame.height, frame.media_time) if active and dets is not None else None
        )
        if obs is not None:
            state.places.frames += 1  # every place could have been seen in this frame
            if len(obs):
                self._sight(r, obs, frame, now, out)
            state.parts = obs.parts.xyxy.astype(np.float64) if obs.zone_level else state.parts[:0]
        places = state.places
        if not len(places) and not state.cases:
            return []
        r.dirty = True
        messages = []
        _, confirm = candidate_decisions(
            now, places.first_seen, places.last_seen, places.attached, timing, since, places.presence, visit_started
        )
        live = in_cooldown(now, state.cooldown_until)
        state.cooldown_box, state.cooldown_until = state.cooldown_box[live], state.cooldown_until[live]
        for i in np.flatnonzero(confirm):
            if self._cooling(r, places.ref[i]):
                continue
            joined = self._open_case(r) if rule.case_per == "zone" or rule.kind in ZONE_LEVEL else self._case_at(r, i)
            if joined is not None:
                places.case[i] = joined.case_id
                joined.repeat_count += 1
                continue
            messages.append(self._confirm(r, int(i), frame, now, obs, out))
        for case in list(state.cases.values()):
            mine = places.case == case.case_id
            if mine.any():
                case.last_seen = max(case.last_seen, float(places.last_seen[mine].max()))
            step = case_decision(case.phase, now, case.last_seen, case.last_report, timing, since)
            if case.case_id in self._ending:
                messages.append(self._clear(r, case, frame, now, out, reason=self._ending.pop(case.case_id)))
            elif step is Phase.CLEARED:
                messages.append(self._clear(r, case, frame, now, out))
            elif step is Phase.UPDATED:
                messages.append(self._update(r, case, frame, now, obs, out))
        places = state.places  # clearing removed the cleared cases' places
        stale, _ = candidate_decisions(now, places.first_seen, places.last_seen, places.attached, timing, since)
        drop = stale | (places.attached & gone(now, places.last_seen, timing, since))
        self._first.forget(places.key[drop])
        out.drop_owners.extend(places.key[drop].tolist())
        state.places = places.subset(~drop)
        return messages

    def _sight(self, r: CompiledRule, obs: Observation, frame: Frame, now: float, out: FrameChanges) -> None:
        """Match this frame's rows to places; hold first frames of new ones, picture those that settled."""
        prefix = f"{r.zone.id}/{r.spec.rule.id}"
        measured = not obs.zone_level and r.spec.rule.kind != "static_object"  # scene objects carry their id
        looks = signatures(frame.image, obs.subjects) if measured else np.full((len(obs), SIZE), np.nan, np.float32)
        if measured:  # a rejected object at its place starts (or continues) nothing
            kept = self._suppressions.kept(r.zone.id, r.spec.rule.id, obs, looks, r.spec.rule)
            obs, looks = obs.rows(kept), looks[kept]
        places = r.state.places
        since = self._clock.observed_since if self._clock.visit_started <= now else -np.inf
        sighted = sight(places, obs, looks, r.spec.rule, now, frame.media_time, prefix, r.state.parts, since)
        places = r.state.places = sighted.places
        for case_id in sighted.returning_cases:
            r.state.cases[case_id].repeat_count += 1  # seen again after an absence: one more capture
        for i in sighted.settled:
            held = self._first.settle(self._facts, r.spec, str(places.key[i]))
            if held is not None:
                out.pictures.append(held)
        for i in sighted.fresh:
            self._first.hold(str(places.key[i]), frame, places.box[i], str(places.label[i]), now, self._seen)

    def _shown(self, frame: Frame, subjects: np.ndarray, seen: Bystanders | None = None) -> Frame:
        """The frame a picture of the case with boxes `subjects` is made from: bystanders blurred if asked.

        `seen`: the frame's people and vehicles (default: those of the frame being processed)."""
        if self._redactor is None:
            return frame
        return self._redactor.frame(frame, seen if seen is not None else self._seen, subjects)

    def _cooling(self, r: CompiledRule, ref: np.ndarray) -> bool:
        """A violation cleared less than cooldown_s ago at the same place (or zone) opens no new case."""
        state = r.state
        if not len(state.cooldown_until):
            return False
        if r.spec.rule.case_per == "zone" or r.spec.rule.kind in ZONE_LEVEL:
            return True
        rows, _ = match_places(state.cooldown_box, ref[None, :], r.spec.rule.stationary_tolerance)
        return bool(len(rows))

    def _case_at(self, r: CompiledRule, i: int) -> Case | None:
        """The open case whose object stands where candidate `i` stands: the same violation, not a second one."""
        places = r.state.places
        attached = np.flatnonzero(places.attached)
        position = position_scores(places.ref[attached], places.ref[i][None, :], r.spec.rule.stationary_tolerance)
        hits = attached[position[:, 0] > 0]
        return r.state.cases.get(str(places.case[hits[0]])) if len(hits) else None

    def _open_case(self, r: CompiledRule) -> Case | None:
        return next((c for c in r.state.cases.values() if c.phase is not Phase.CLEARED), None)

    def _confirm(
        self, r: CompiledRule, i: int, frame: Frame, now: float, obs: Observation | None, out: FrameChanges
    ) -> CaseMessage:
        places = r.state.places
        key = str(places.key[i])
        case = Case(
            case_id=case_id_for(
                self._facts.worker_id,
                self._facts.camera.id,
                r.zone.id,
                r.spec.rule.id,
                float(places.first_seen[i]),
                key,
            ),
            zone_version=self._zone_version,
            phase=advance(Phase.CANDIDATE, Phase.CONFIRMED),
            seq=1,
            first_seen=float(places.first_seen[i]),
            confirmed=now,
            last_seen=float(places.last_seen[i]),
            last_report=now,
            first_media=float(places.first_media[i]),
            confirmed_media=frame.media_time,
            label=str(places.label[i]),
            score=float(places.score[i]),
            box=places.box[i].tolist(),
        )
        places.case[i] = case.case_id
        r.state.cases[case.case_id] = case
        seen = Sighting(places.box[i][None, :], [_caption(places, i)], _others(obs, places.box[i]), _measure(obs))
        evidence = event_pictures(self._facts, r.spec, self._shown(frame, seen.boxes), now, 1, seen, 1)
        first = self._first.picture(key)
        if first is not None:
            evidence.append(dataclasses.replace(first, name="01-first_seen.jpg"))
        return self._emit(r, case, frame, evidence, 1, seen.measure, out)

    def _update(
        self, r: CompiledRule, case: Case, frame: Frame, now: float, obs: Observation | None, out: FrameChanges
    ) -> CaseMessage:
        places = r.state.places
        mine = np.flatnonzero((places.case == case.case_id) & (places.last_seen >= now))
        mine = mine[np.argsort(-places.first_seen[mine], kind="stable")]  # newest sightings first
        case.phase = advance(case.phase, Phase.UPDATED)
        case.seq += 1
        case.updated = case.last_report = now
        if len(mine):
            case.box, case.score, case.label = (
                places.box[mine[0]].tolist(),
                float(places.score[mine[0]]),
                str(places.label[mine[0]]),
            )
        boxes = places.box[mine] if len(mine) else np.asarray([case.box])
        labels = [_caption(places, int(i)) for i in mine] or [f"{case.label} {case.score:.2f}"]
        seen = Sighting(boxes, labels, _others(obs, boxes[0]), _measure(obs))
        shown = self._shown(frame, boxes)
        evidence = event_pictures(self._facts, r.spec, shown, now, case.seq, seen, r.spec.rule.max_pictures - 1)
        return self._emit(r, case, frame, evidence, len(mine), seen.measure, out)

    def _clear(
        self, r: CompiledRule, case: Case, frame: Frame, now: float, out: FrameChanges, reason: str | None = None
    ) -> CaseMessage:
        places = r.state.places
        mine = places.case == case.case_id
        case.phase = advance(case.phase, Phase.CLEARED)
        case.seq += 1
        case.cleared = now
        boxes = places.box[mine] if mine.any() else np.asarray([case.box])
        seen = Sighting(boxes, ["cleared"] * len(boxes), np.zeros((0, 4)))
        shown = self._shown(frame, boxes)
        after = scene_picture(self._facts, r.spec, shown, now, f"{case.seq:02d}-after.jpg", "after", seen, cleared=True)
        if r.spec.rule.cooldown_s > 0:
            union = np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])[None, :]
            r.state.cooldown_box = np.concatenate([r.state.cooldown_box, union])
            r.state.cooldown_until = np.append(r.state.cooldown_until, now + r.spec.rule.cooldown_s)
        self._first.forget(places.key[mine])
        out.drop_owners.extend(places.key[mine].tolist())
        r.state.places = places.subset(~mine)
        del r.state.cases[case.case_id]
        r.dirty = True
        return self._emit(r, case, frame, [after], int(mine.sum()), None, out, reason)

    def _emit(
        self,
        r: CompiledRule,
        case: Case,
        frame: Frame,
        evidence: list[Picture],
        objects: int,
        measure: float | None,
        out: FrameChanges,
        reason: str | None = None,
    ) -> CaseMessage:
        b = body(self._facts, r.event, r.zone, r.spec, case, frame, evidence, objects, measure, reason)
        out.cases.append(
            CaseRecord(
                case.case_id, r.zone.id, r.spec.rule.id, case.phase.value, case.seq, case.confirmed, case.last_report, b
            )
        )
        return message(case, b, evidence)


def _caption(places: Places, i: int) -> str:
    return f"{places.label[i]} {float(places.score[i]):.2f}"


def _others(obs: Observation | None, box: np.ndarray) -> np.ndarray:
    if obs is None or not len(obs.parts):
        return np.zeros((0, 4))
    return obs.parts.xyxy[~np.all(np.isclose(obs.parts.xyxy, box[None, :]), axis=1)]


def _measure(obs: Observation | None) -> float | None:
    return None if obs is None else obs.measure
