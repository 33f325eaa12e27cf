// Recent cases on this box, newest first: one card per case with its messages' evidence pictures
// (and clip, when a message carries one), fetched with the token; refreshed every few seconds.
"use strict";

const CASES_PERIOD_MS = 5000;
const pictures = new Map(); // picture URL -> blob: URL, so a refresh does not fetch them again
const page = { shown: "", timer: null };

async function connect(event) {
  event.preventDefault();
  useToken($("token").value);
  try {
    const cameras = await (await api("GET", "/api/cameras")).json();
    $("camera").replaceChildren(new Option("all cameras", ""), ...cameras.map((c) => new Option(c.id, c.id)));
    $("camera").disabled = $("refresh").disabled = false;
    await refresh();
  } catch (error) {
    say(`Cannot connect: ${error.message}`, true);
  }
}

async function showQuality() {
  // Cases, verdicts and precision per camera/zone/rule; a noisy one is flagged for the operator, never silenced.
  const quality = await (await api("GET", "/api/quality")).json();
  const rows = quality.rules.map((q) => {
    const tr = document.createElement("tr");
    tr.className = q.flagged ? "flagged" : "";
    const precision = q.precision === null ? "–" : `${Math.round(q.precision * 100)} %`;
    const flag = q.flagged
      ? t("noisy: precision under {threshold} % over {count} verdicts; check the zone, the rule or the model", {
        threshold: Math.round(quality.flag_below_precision * 100), count: q.verdicts })
      : "";
    for (const value of [q.camera_id, q.zone_id, q.rule_id, q.cases, q.confirmed, q.false_alarms, precision, flag]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      tr.append(td);
    }
    return tr;
  });
  $("quality-rows").replaceChildren(...rows);
  $("quality").hidden = rows.length === 0;
}

async function refresh() {
  clearTimeout(page.timer);
  const camera = $("camera").value;
  const query = camera ? `&camera_id=${encodeURIComponent(camera)}` : "";
  try {
    const messages = await (await api("GET", `/api/cases?limit=200${query}`)).json();
    await showQuality();
    const signature = messages.map((m) => m.message_id).join(" ");
    if (signature !== page.shown) {
      await show(messages);
      page.shown = signature;
    }
    say(`${$("cases").children.length} cases, updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    say(`Cannot read cases: ${error.message}`, true);
  }
  page.timer = setTimeout(refresh, CASES_PERIOD_MS);
}

async function show(messages) {
  const byCase = new Map(); // newest message first, so the first of each case is its latest
  for (const m of messages) {
    if (!byCase.has(m.case_id)) byCase.set(m.case_id, []);
    byCase.get(m.case_id).push(m);
  }
  const cards = await Promise.all([...byCase.values()].map(card));
  $("cases").replaceChildren(...cards);
  $("empty").hidden = cards.length > 0;
}

function field(list, name, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

// detection.plate of rules with plates: true: the plate as printed, or why it is unread
const plateText = (plate) =>
  plate && (plate.text ? `${plate.display} (${Number(plate.confidence).toFixed(2)})` : `unread: ${plate.unread}`);

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

async function card(messages) {
  const latest = messages[0];
  const body = latest.body;
  const times = body.times || {};
  const detection = body.detection || {};
  const article = document.createElement("article");
  article.className = `case ${latest.kind}`;
  article.dataset.case = latest.case_id;
  const title = document.createElement("h2");
  title.textContent = latest.description || latest.case_id;
  const facts = document.createElement("dl");
  field(facts, "case", latest.case_id);
  field(facts, "state", `${body.status || latest.kind} (message ${latest.seq})`);
  field(facts, "camera", latest.camera_id);
  field(facts, "zone", latest.zone_id && `${latest.zone_id} (version ${latest.zone_version})`);
  field(facts, "rule", latest.rule_id && `${latest.rule_id}, event ${latest.event_code}`);
  field(facts, "object", detection.class && `${detection.class} ${Number(detection.score).toFixed(2)}`);
  field(facts, "plate", plateText(detection.plate));
  field(facts, "first seen", when(times.first_seen));
  field(facts, "confirmed", when(times.confirmed));
  field(facts, "cleared", when(times.cleared));
  const evidence = document.createElement("div");
  evidence.className = "evidence";
  for (const m of messages) {
    for (const p of m.pictures) evidence.append(p.kind === "clip" ? clip(p, m) : await picture(p, m));
  }
  article.append(title, facts, evidence);
  return article;
}

async function picture(p, message) {
  const figure = document.createElement("figure");
  const img = document.createElement("img");
  img.alt = `${p.kind || "picture"} of message ${message.seq}`;
  img.dataset.name = p.name;
  try {
    if (!pictures.has(p.url)) pictures.set(p.url, await blobUrl(p.url));
    img.src = pictures.get(p.url);
  } catch (error) {
    img.alt = `${p.name}: ${error.message}`;
  }
  const link = document.createElement("a");
  link.href = img.src || "#";
  link.target = "_blank";
  link.rel = "noopener";
  link.append(img);
  const caption = document.createElement("figcaption");
  caption.textContent = `#${message.seq} ${p.kind || p.name}`;
  figure.append(link, caption);
  return figure;
}

function clip(p, message) {
  // Clips are larger: fetched only when asked for, then played here and offered as a file.
  const figure = document.createElement("figure");
  figure.className = "clip";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = `Play clip (#${message.seq})`;
  button.addEventListener("click", async () => {
    try {
      const url = await blobUrl(p.url);
      const video = document.createElement("video");
      video.controls = true;
      video.src = url;
      const link = document.createElement("a");
      link.href = url;
      link.download = p.name;
      link.textContent = `download ${p.name}`;
      const caption = document.createElement("figcaption");
      caption.append(`#${message.seq} clip · `, link);
      figure.replaceChildren(video, caption);
    } catch (error) {
      button.textContent = `Clip unavailable: ${error.message}`;
    }
  });
  figure.append(button);
  return figure;
}

function init() {
  $("login").addEventListener("submit", connect);
  $("refresh").addEventListener("click", () => {
    page.shown = "";
    refresh();
  });
  $("camera").addEventListener("change", () => {
    page.shown = "";
    refresh();
  });
  startLogin($("login"), $("token"));
}

document.addEventListener("DOMContentLoaded", init);
