// Zone editor: draw and move a zone's polygon over the camera's latest frame, set its rules,
// save through the operator API (hot-applied by the worker). Plain DOM, no libraries.
"use strict";

const FORM_KEYS = ["id", "kind", "event_code", "model", "classes", "min_score", "min_duration_s",
  "min_count", "min_coverage", "case_per", "enabled"];
const NEW_RULE = { id: "rule-1", kind: "dwell", event_code: "0505", model: "default", classes: [],
  min_score: 0.3, min_duration_s: 60, min_count: 1, min_coverage: 0, case_per: "object", enabled: true };

const state = {
  catalog: null, camera: null, version: null, zones: [],
  zone: null,     // the zone being edited (a copy), or null
  isNew: false,   // true until the zone is saved the first time
  rule: -1,       // index of the selected rule in state.zone.rules
  size: { w: 1, h: 1 },
  drag: null,     // index of the point being dragged
  pressed: null,  // index of the point under the last press (a double-click's target under capture)
  dirty: false,   // the zone being edited has changes that are not saved
};

function named(part, index, loc) {
  // "rules.0" in a problem's location reads as "rule parked-vehicle": the operator knows rules by id.
  const rules = state.zone ? state.zone.rules : [];
  if (index > 0 && loc[index - 1] === "rules" && Number.isInteger(part) && rules[part]) return rules[part].id;
  return part;
}

function showProblems(error) {
  const list = $("problems");
  list.replaceChildren();
  const items = error ? (error.problems.length ? error.problems : [{ loc: [], msg: error.message }]) : [];
  for (const p of items) {
    const li = document.createElement("li");
    const where = p.loc.filter((x) => x !== "body").map(named).join(".");
    li.textContent = where ? `${where}: ${p.msg}` : p.msg;
    list.append(li);
  }
}

// ------------------------------------------------------------------ loading
async function connect(event) {
  event.preventDefault();
  useToken($("token").value);
  try {
    state.catalog = await (await api("GET", "/api/catalog")).json();
    const cameras = await (await api("GET", "/api/cameras")).json();
    fillSelect($("camera"), cameras.map((c) => [c.id, c.name ? `${c.id} — ${c.name}` : c.id]));
    fillSelect($("rule-kind"), state.catalog.rule_kinds.map((k) => [k, k]));
    fillSelect($("rule-event"), state.catalog.events.map((e) => [e.code, `${e.code} ${e.name}`]));
    const models = state.catalog.models.map((m) => [m.id, m.loaded ? m.id : t("{model} (not loaded)", { model: m.id })]);
    const first = state.catalog.models.length ? ` (${state.catalog.models[0].id})` : "";
    fillSelect($("rule-model"), [["default", `default${first}`], ...models]);
    $("camera").disabled = $("refresh").disabled = false;
    $("zones-box").disabled = false;
    await selectCamera();
  } catch (error) {
    say(t("Cannot connect: {problem}", { problem: error.message }), true);
  }
}

function fillSelect(select, pairs) {
  select.replaceChildren(...pairs.map(([value, text]) => new Option(text, value)));
}

async function selectCamera() {
  state.camera = $("camera").value;
  await Promise.all([loadFrame(), loadZones()]);
  editZone(null);
  scheduleLive();
}

async function loadFrame() {
  // The newest decoded frame; with the live view on, the analysed frame its boxes belong to.
  if ($("live").checked) {
    live.frameKey = null;
    await refreshLive();
  } else {
    showStream();
    await showNewestFrame();
  }
}

async function showNewestFrame() {
  await showFrame(`/api/cameras/${encodeURIComponent(state.camera)}/frame.jpg?zones=false`);
}

async function showFrame(path) {
  // Returns the frame's "index@media_time", to match it with a live view.
  let key = null;
  try {
    const response = await api("GET", path);
    const w = Number(response.headers.get("X-Frame-Width")), h = Number(response.headers.get("X-Frame-Height"));
    key = `${response.headers.get("X-Frame-Index")}@${Number(response.headers.get("X-Media-Time"))}`;
    const url = URL.createObjectURL(await response.blob());
    const old = $("frame").src;
    $("frame").src = url;
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    state.size = { w: w || 1, h: h || 1 };
  } catch (error) {
    say(t("No frame: {problem}", { problem: error.message }), true);
    state.size = { w: 4, h: 3 };
  }
  for (const id of ["overlay", "live-layer"]) $(id).setAttribute("viewBox", `0 0 ${state.size.w} ${state.size.h}`);
  draw();
  return key;
}

async function showStream() {
  // The frame is the camera's newest; say whether the camera still delivers, so an old
  // picture is not mistaken for the live view.
  const label = $("stream");
  try {
    const camera = await (await api("GET", `/api/cameras/${encodeURIComponent(state.camera)}`)).json();
    const health = camera.health;
    const seen = health && health.last_frame_age_s !== null;
    const age = seen ? t(", last frame {age} s ago", { age: Math.round(health.last_frame_age_s) }) : "";
    label.textContent = health ? t("Stream: {state}{age}", { state: health.state, age }) : t("Stream: not running");
    label.className = health && health.state === "streaming" ? "" : "stale";
    if (health && health.patrol) {
      // a patrol camera is idle between visits: its visits say whether it is seen
      const p = health.patrol;
      const now = Date.now() / 1000;
      const last = p.last_visit_at === null ? t("no visit yet")
        : t("last visit {age} s ago, {pictures} pictures in {duration} s",
          { age: Math.round(now - p.last_visit_at), pictures: p.last_pictures, duration: p.last_visit_s });
      const next = p.next_due_at === null ? t("visiting now") : t("next in {s} s", { s: Math.max(0, Math.round(p.next_due_at - now)) });
      const failing = p.last_error ? t("; failing: {error}", { error: p.last_error }) : "";
      label.textContent = t("Patrol: {last}; {next}{failing}", { last, next, failing });
      label.className = p.last_error ? "stale" : "";
    }
  } catch (error) {
    label.textContent = "";
  }
}

async function loadZones() {
  const response = await api("GET", `/api/cameras/${encodeURIComponent(state.camera)}/zones`);
  const data = await response.json();
  state.zones = data.zones;
  state.version = data.version;
  $("version").textContent = t("(version {version})", { version: data.version });
  fillSelect($("zones"), state.zones.map((z) => [z.id, z.name ? `${z.id} — ${z.name}` : z.id]));
}

// ------------------------------------------------------------------ editing
function mayDiscard() {
  // Leaving a zone with unsaved changes loses them: ask first.
  return !state.dirty || confirm(t("Discard the unsaved changes to zone {zone}?", { zone: state.zone.id }));
}

function editZone(zone, isNew = false) {
  state.dirty = false;
  state.zone = zone ? structuredClone(zone) : null;
  state.isNew = isNew;
  state.rule = zone && zone.rules.length ? 0 : -1;
  $("zone-box").disabled = !zone;
  $("save").disabled = !zone;
  $("zone-id").value = zone ? zone.id : "";
  $("zone-id").readOnly = !isNew;
  $("zone-name").value = zone ? zone.name : "";
  showProblems(null);
  showRules();
  draw();
}

function newZone() {
  if (!mayDiscard()) return;
  let n = state.zones.length + 1;
  while (state.zones.some((z) => z.id === `zone-${n}`)) n += 1;
  $("zones").value = "";
  editZone({ id: `zone-${n}`, name: "", polygon: [], rules: [structuredClone(NEW_RULE)] }, true);
  say("Click on the picture to place the zone's points.");
}

function showRules() {
  const rules = state.zone ? state.zone.rules : [];
  fillSelect($("rules"), rules.map((r, i) => [String(i), `${r.id} (${r.kind}, ${r.event_code})`]));
  $("rules").value = String(state.rule);
  $("rule-box").disabled = state.rule < 0;
  if (state.rule < 0) {
    // No rule selected: an empty form, not the values of a rule that does not exist.
    for (const field of $("rule-box").querySelectorAll("input, textarea")) field.value = "";
    for (const field of $("rule-box").querySelectorAll("select")) field.selectedIndex = -1;
    $("rule-classes").replaceChildren();
    $("rule-enabled").checked = false;
    return;
  }
  const rule = rules[state.rule];
  $("rule-id").value = rule.id;
  $("rule-kind").value = rule.kind;
  $("rule-event").value = rule.event_code;
  $("rule-model").value = rule.model;
  showClasses(rule.model, rule.classes);
  $("rule-min-score").value = rule.min_score;
  $("rule-min-duration").value = rule.min_duration_s;
  $("rule-min-count").value = rule.min_count;
  $("rule-min-coverage").value = rule.min_coverage;
  $("rule-case-per").value = rule.case_per;
  $("rule-enabled").checked = rule.enabled;
  const extra = Object.fromEntries(Object.entries(rule).filter(([k]) => !FORM_KEYS.includes(k)));
  $("rule-extra").value = JSON.stringify(extra, null, 1);
}

function showClasses(modelId, chosen) {
  const models = state.catalog ? state.catalog.models : [];
  const model = models.find((m) => m.id === modelId) || models[0];
  fillSelect($("rule-classes"), (model ? model.classes : []).map((c) => [c, c]));
  for (const option of $("rule-classes").options) option.selected = chosen.includes(option.value);
}

function readRule() {
  // The form's fields over the JSON of the other parameters; throws on bad JSON.
  let extra;
  try {
    extra = JSON.parse($("rule-extra").value || "{}");
  } catch (error) {
    throw new Error(t("other parameters are not valid JSON: {problem}", { problem: error.message }));
  }
  const number = (id) => Number($(id).value);
  return {
    ...extra,
    id: $("rule-id").value.trim(),
    kind: $("rule-kind").value,
    event_code: $("rule-event").value,
    model: $("rule-model").value,
    classes: [...$("rule-classes").selectedOptions].map((o) => o.value),
    min_score: number("rule-min-score"),
    min_duration_s: number("rule-min-duration"),
    min_count: number("rule-min-count"),
    min_coverage: number("rule-min-coverage"),
    case_per: $("rule-case-per").value,
    enabled: $("rule-enabled").checked,
  };
}

function keepRule() {
  if (state.zone && state.rule >= 0) state.zone.rules[state.rule] = readRule();
}

async function save() {
  try {
    keepRule();
  } catch (error) {
    showProblems(error);
    return;
  }
  const zone = { ...state.zone, id: $("zone-id").value.trim(), name: $("zone-name").value };
  const base = `/api/cameras/${encodeURIComponent(state.camera)}/zones`;
  try {
    const response = state.isNew
      ? await api("POST", base, zone, { "If-Match": `"${state.version}"` })
      : await api("PUT", `${base}/${encodeURIComponent(zone.id)}`, zone, { "If-Match": `"${state.version}"` });
    const saved = await response.json();
    await loadZones();
    $("zones").value = saved.zone.id;
    editZone(saved.zone);
    say(t("Saved zone {zone} as version {version}; it applies from the next analysed frame.", {
      zone: saved.zone.id,
      version: saved.version,
    }));
  } catch (error) {
    showProblems(error);
    say(t("Not saved: {problem}", { problem: error.message }), true);
  }
}

async function deleteZone() {
  const id = $("zones").value;
  if (!id || !confirm(t("Delete zone {zone}?", { zone: id }))) return;
  try {
    const response = await api("DELETE", `/api/cameras/${encodeURIComponent(state.camera)}/zones/${encodeURIComponent(id)}`,
      undefined, { "If-Match": `"${state.version}"` });
    const done = await response.json();
    await loadZones();
    editZone(null);
    say(t("Deleted zone {zone}; now version {version}.", { zone: id, version: done.version }));
  } catch (error) {
    say(t("Not deleted: {problem}", { problem: error.message }), true);
  }
}

// ------------------------------------------------------------------ drawing
function toNormalised(event) {
  const svg = $("overlay");
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const p = point.matrixTransform(svg.getScreenCTM().inverse());
  const clamp = (v) => Math.min(1, Math.max(0, v));
  return [clamp(p.x / state.size.w), clamp(p.y / state.size.h)].map((v) => Math.round(v * 10000) / 10000);
}

function draw() {
  const svg = $("overlay");
  const { w, h } = state.size;
  const shapes = [];
  const poly = (points, cls) => {
    const el = document.createElementNS(SVG_NS, "polygon");
    el.setAttribute("points", points.map(([x, y]) => `${x * w},${y * h}`).join(" "));
    if (cls) el.setAttribute("class", cls);
    return el;
  };
  const label = (zone) => {
    // The zone's id at its top-left corner, so the operator can tell the outlines apart.
    const el = document.createElementNS(SVG_NS, "text");
    const size = Math.max(w, h) / 55;
    const width = 0.62 * size * zone.id.length; // about; keeps a zone at the right edge readable
    const left = Math.min(...zone.polygon.map(([x]) => x)) * w + size / 3;
    el.setAttribute("x", Math.max(0, Math.min(left, w - width - size / 3)));
    el.setAttribute("y", Math.min(...zone.polygon.map(([, y]) => y)) * h + size * 1.2);
    el.setAttribute("font-size", size);
    el.textContent = zone.id;
    return el;
  };
  const others = state.zones.filter((zone) => !state.zone || zone.id !== state.zone.id);
  for (const zone of others) shapes.push(poly(zone.polygon, "other"), label(zone));
  if (state.zone) {
    shapes.push(poly(state.zone.polygon, ""));
    if (state.zone.polygon.length) shapes.push(label(state.zone));
    state.zone.polygon.forEach(([x, y], i) => {
      const dot = document.createElementNS(SVG_NS, "circle");
      dot.setAttribute("cx", x * w);
      dot.setAttribute("cy", y * h);
      dot.setAttribute("r", Math.max(w, h) / 120);
      dot.dataset.index = String(i);
      shapes.push(dot);
    });
    $("point-count").textContent = String(state.zone.polygon.length);
  }
  svg.replaceChildren(...shapes);
}

function onPointerDown(event) {
  if (!state.zone) {
    say("Pick a zone in the list, or press New zone, to place points.");
    return;
  }
  const index = event.target.dataset ? event.target.dataset.index : undefined;
  state.pressed = index === undefined ? null : Number(index);
  if (index !== undefined) {
    state.drag = Number(index);
    $("overlay").setPointerCapture(event.pointerId);
  } else if (event.button === 0) {
    state.zone.polygon.push(toNormalised(event));
    state.dirty = true;
    draw();
  }
}

function onPointerMove(event) {
  if (state.drag === null) return;
  state.zone.polygon[state.drag] = toNormalised(event);
  state.dirty = true;
  draw();
}

function onPointerUp() {
  state.drag = null;
}

function onDoubleClick(event) {
  // Under pointer capture the double-click lands on the overlay, not on the point: use the press.
  event.preventDefault();
  if (state.zone && state.pressed !== null) {
    state.zone.polygon.splice(state.pressed, 1);
    state.pressed = null;
    state.dirty = true;
    draw();
  }
}

// ------------------------------------------------------------------ wiring
function init() {
  $("login").addEventListener("submit", connect);
  $("camera").addEventListener("change", () => {
    if (mayDiscard()) selectCamera();
    else $("camera").value = state.camera;
  });
  $("refresh").addEventListener("click", loadFrame);
  $("live").addEventListener("change", () => {
    scheduleLive();
    if (!$("live").checked) showNewestFrame();
  });
  $("zones").addEventListener("change", () => {
    const zone = state.zones.find((z) => z.id === $("zones").value);
    if (!mayDiscard()) $("zones").value = state.isNew ? "" : state.zone.id;
    else if (zone) editZone(zone);
  });
  $("new-zone").addEventListener("click", newZone);
  $("delete-zone").addEventListener("click", deleteZone);
  $("undo-point").addEventListener("click", () => {
    if (state.zone && state.zone.polygon.length) {
      state.zone.polygon.pop();
      state.dirty = true;
    }
    draw();
  });
  document.querySelector("aside").addEventListener("input", () => {
    if (state.zone) state.dirty = true;
  });
  $("rules").addEventListener("change", () => {
    try {
      keepRule();
    } catch (error) {
      showProblems(error);
      return;
    }
    state.rule = Number($("rules").value);
    showRules();
  });
  $("add-rule").addEventListener("click", () => {
    keepRule();
    const rule = structuredClone(NEW_RULE);
    rule.id = `rule-${state.zone.rules.length + 1}`;
    state.zone.rules.push(rule);
    state.rule = state.zone.rules.length - 1;
    state.dirty = true;
    showRules();
  });
  $("remove-rule").addEventListener("click", () => {
    if (state.rule < 0) return;
    state.zone.rules.splice(state.rule, 1);
    state.rule = state.zone.rules.length ? 0 : -1;
    state.dirty = true;
    showRules();
  });
  $("rule-model").addEventListener("change", () => showClasses($("rule-model").value, []));
  $("save").addEventListener("click", save);
  const svg = $("overlay");
  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("dblclick", onDoubleClick);
  startLogin($("login"), $("token"));
}

document.addEventListener("DOMContentLoaded", init);
