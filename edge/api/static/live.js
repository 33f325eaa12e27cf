// Live view: what the camera's rules see on its latest analysed frame (detections with class, score
// and track id; each rule's places with their dwell so far / required; open cases; the scene model's
// static objects and tamper state), drawn under the zone outlines and listed beside them, refreshed
// every second while "Live view" is on. Reads GET /api/cameras/{camera}/live and the same frame.
"use strict";

const LIVE_PERIOD_MS = 1000;
const LIVE_PLACES = 6; // places listed per rule (the longest-timed first); the picture shows them all
const live = { view: null, error: "", frameKey: null, timer: null, round: 0, busy: false };

const seconds = (s) => (s < 10 ? s.toFixed(1) : String(Math.round(s)));

async function refreshLive() {
  if (!state.camera || live.busy) return;
  live.busy = true;
  const camera = encodeURIComponent(state.camera);
  try {
    const view = await (await api("GET", `/api/cameras/${camera}/live`)).json();
    const key = `${view.frame.index}@${view.frame.media_time}`;
    if (key !== live.frameKey) {
      // the boxes belong to the analysed frame: show that one, not the newest decoded frame
      const shown = await showFrame(`/api/cameras/${camera}/frame.jpg?zones=false&analysed=true`);
      live.frameKey = shown === key ? key : null; // a newer frame came meanwhile: the next round catches up
    }
    live.view = view;
    live.error = "";
  } catch (error) {
    live.view = null;
    live.error = error.message;
    if (error.status === 404 && live.frameKey !== "newest") {
      await showNewestFrame(); // nothing analysed yet: the newest frame, so zones can still be drawn
      live.frameKey = "newest";
    }
  } finally {
    live.busy = false;
  }
  drawLive();
  listLive();
  showStream();
}

function scheduleLive() {
  // One refresh loop at a time: a new round (camera change, toggle) ends the previous one.
  clearTimeout(live.timer);
  const round = ++live.round;
  if (!$("live").checked) {
    live.view = null;
    live.error = "";
    drawLive();
    listLive();
    return;
  }
  const tick = async () => {
    if (!document.hidden) await refreshLive();
    if (round === live.round) live.timer = setTimeout(tick, LIVE_PERIOD_MS);
  };
  tick();
}

function drawLive() {
  const svg = $("live-layer");
  const view = live.view;
  $("stage").classList.toggle("paused", Boolean(view && view.paused));
  if (!view) {
    svg.replaceChildren();
    return;
  }
  const size = Math.max(state.size.w, state.size.h) / 80;
  const shapes = [];
  const rect = ([x1, y1, x2, y2], cls, data) => {
    const el = svgEl("rect", { x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1), class: cls });
    Object.assign(el.dataset, data);
    return el;
  };
  const text = (x, y, content, cls) => {
    const width = 0.6 * size * content.length; // about; keeps a label at the right edge readable
    return svgEl("text", { x: Math.max(0, Math.min(x, state.size.w - width)), y, class: cls, "font-size": size }, content);
  };
  for (const o of view.scene ? view.scene.static_objects : []) {
    shapes.push(rect(o.box, "static", { object: o.object_id }));
    shapes.push(text(o.box[0], o.box[3] + size, t("static #{id}", { id: o.object_id }), "static"));
  }
  for (const d of view.detections) {
    const track = d.track_id === null ? "" : ` #${d.track_id}`;
    shapes.push(rect(d.box, "det", { class: d.class_name, score: d.score, track: d.track_id ?? "" }));
    shapes.push(text(d.box[0], Math.max(size, d.box[1] - size * 0.3), `${d.class_name} ${d.score.toFixed(2)}${track}`, "det"));
  }
  for (const s of view.suppressed) {
    shapes.push(rect(s.box, "suppressed", { suppression: s.id }));
    shapes.push(text(s.box[0], s.box[3] + size, t("rejected {label}: ignored", { label: s.label }), "suppressed"));
  }
  for (const zone of view.zones) {
    for (const rule of zone.rules) {
      for (const c of rule.open_cases) shapes.push(rect(c.box, "case", { case: c.case_id }));
      for (const p of rule.places.filter((place) => place.absent_s === 0)) {
        shapes.push(rect(p.box, p.phase, { key: p.key, dwell: p.dwell_s }));
        const times = { dwell: seconds(p.dwell_s), required: seconds(p.required_s) };
        const timer = p.phase === "candidate" ? t("{dwell} / {required} s", times) : t("case {dwell} s", times);
        shapes.push(text(p.box[0], p.box[3] + size, timer, "timer"));
      }
    }
  }
  svg.replaceChildren(...shapes);
}

function listLive() {
  const view = live.view;
  const stateLine = $("live-state");
  const rules = $("live-rules");
  const scene = $("live-scene");
  if (!view) {
    const why = live.error || t("waiting for the first analysed frame");
    stateLine.textContent = $("live").checked ? t("No live view: {why}", { why }) : t("Live view is off.");
    stateLine.className = live.error ? "stale" : "";
    rules.replaceChildren();
    scene.textContent = "";
    return;
  }
  const f = view.frame;
  const paused = view.paused ? " " + t("Rules paused: no rule saw this frame (view tampered or disk nearly full).") : "";
  const at = { index: f.index, time: seconds(f.media_time), age: seconds(f.age_s), count: view.detections.length };
  stateLine.textContent = t("Frame {index} at {time} s of the stream, read {age} s ago: {count} detections.", at) + paused;
  stateLine.className = view.paused ? "stale" : "";
  rules.replaceChildren(...view.zones.flatMap((zone) => zone.rules.map((rule) => ruleItem(zone, rule))));
  if (!view.scene) scene.textContent = t("Scene model: off (no static objects, no tamper check).");
  else {
    const tamper = view.scene.tamper;
    const state = tamper.kind === "none"
      ? t("view ok")
      : t("VIEW {kind}: {detail}", { kind: t(tamper.kind).toUpperCase(), detail: tamper.detail });
    const learning = view.scene.learning ? t(", learning the background") : "";
    const objects = view.scene.static_objects.map((o) =>
      t("#{id} {name} since {time} s", { id: o.object_id, name: o.class_name || t("unknown"), time: seconds(o.first_seen_media_s) }));
    const listed = objects.length ? objects.join(", ") : t("none");
    scene.textContent = t("Scene model: {state}{learning}; static objects: {objects}.", { state, learning, objects: listed });
    scene.className = tamper.kind === "none" ? "" : "stale";
  }
}

function ruleItem(zone, rule) {
  const li = document.createElement("li");
  li.dataset.rule = rule.rule_id;
  const head = document.createElement("div");
  const inactive = rule.active ? "" : t(" (inactive now)");
  const open = rule.open_cases.length;
  const cases = open ? t(open > 1 ? ", {count} open cases" : ", {count} open case", { count: open }) : "";
  const facts = { zone: zone.zone_id, rule: rule.rule_id, event: rule.event_code, needs: seconds(rule.min_duration_s) };
  head.textContent = t("{zone} / {rule}: event {event}, needs {needs} s", facts) + inactive + cases;
  li.append(head);
  const places = [...rule.places].sort((a, b) => a.absent_s - b.absent_s || b.dwell_s - a.dwell_s);
  const list = document.createElement("ul");
  for (const p of places.slice(0, LIVE_PLACES)) {
    const item = document.createElement("li");
    item.className = `place ${p.phase}`;
    Object.assign(item.dataset, { key: p.key, dwell: p.dwell_s, required: p.required_s, phase: p.phase });
    const gone = p.absent_s > 0 ? t(", unseen {time} s", { time: seconds(p.absent_s) }) : "";
    const timing = { label: p.label, dwell: seconds(p.dwell_s), required: seconds(p.required_s) };
    const what = (p.phase === "candidate"
      ? t("{label} {dwell} / {required} s", timing)
      : t("{label} {dwell} s, case …{case}", { ...timing, case: p.case_id.slice(-6) })) + gone;
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = p.required_s || 1;
    meter.value = Math.min(p.dwell_s, meter.max);
    item.append(meter, ` ${what}`);
    list.append(item);
  }
  if (places.length > LIVE_PLACES) {
    const more = document.createElement("li");
    more.textContent = t("and {count} more", { count: places.length - LIVE_PLACES });
    list.append(more);
  }
  if (!places.length) {
    const none = document.createElement("li");
    none.textContent = t("nothing being timed");
    list.append(none);
  }
  li.append(list);
  return li;
}
