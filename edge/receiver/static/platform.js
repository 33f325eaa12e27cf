// The stand-in platform's operator: the cases received, each with its verdict, and buttons that send a
// verdict to the box that reported the case (POST /api/cases/{case}/verdict; the box answers).
"use strict";

const $ = (id) => document.getElementById(id);
const VERDICTS = [
  ["confirm", { verdict: "confirmed" }],
  ["false alarm: wrong object", { verdict: "false_alarm", reason: "wrong_object" }],
  ["false alarm: not a violation", { verdict: "false_alarm", reason: "not_a_violation" }],
  ["false alarm: duplicate", { verdict: "false_alarm", reason: "duplicate" }],
];

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function verdictText(verdict) {
  if (!verdict) return "";
  return verdict.reason ? `${verdict.verdict} (${verdict.reason})` : verdict.verdict;
}

function actions(caseId, verdict) {
  if (verdict) return [];
  return VERDICTS.map(([label, body]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.verdict = body.reason || body.verdict;
    button.addEventListener("click", () => send(caseId, body));
    return button;
  });
}

async function send(caseId, body) {
  const answer = await fetch(`/api/cases/${encodeURIComponent(caseId)}/verdict`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const result = await answer.json();
  const detail = typeof result.detail === "string" ? result.detail : JSON.stringify(result.detail);
  say(answer.ok ? `${caseId}: ${result.detail}` : `${caseId}: HTTP ${answer.status}: ${detail}`, !answer.ok);
  await show();
}

function cell(row, content) {
  const td = document.createElement("td");
  td.append(...(Array.isArray(content) ? content : [String(content ?? "")]));
  row.append(td);
}

async function listing() {
  const cases = await (await fetch("/api/cases")).json();
  $("cases").replaceChildren(...cases.map((c) => {
    const row = document.createElement("tr");
    row.dataset.case = c.case_id;
    row.className = c.verdict && c.verdict.verdict === "false_alarm" ? "rejected" : "";
    const link = document.createElement("a");
    link.href = `?case=${encodeURIComponent(c.case_id)}`;
    link.textContent = c.case_id;
    cell(row, [link]);
    cell(row, c.latest.event ? `${c.latest.event.code} ${c.latest.event.name}` : "");
    cell(row, c.latest.zone ? c.latest.zone.id : "");
    cell(row, c.state);
    cell(row, c.box ? c.box.worker_id : "");
    cell(row, verdictText(c.verdict));
    cell(row, actions(c.case_id, c.verdict));
    return row;
  }));
  say(`${cases.length} cases`);
}

async function casePage(caseId) {
  const answer = await fetch(`/api/cases/${encodeURIComponent(caseId)}`);
  if (!answer.ok) return say(`no case ${caseId}`, true);
  const c = await answer.json();
  $("listing").hidden = true;
  $("case").hidden = false;
  $("case-title").textContent = `${c.case_id}: ${c.latest.description || c.state}`;
  $("case-verdict").textContent = c.verdict ? `verdict: ${verdictText(c.verdict)}; ${c.verdict.detail}` : "no verdict yet";
  $("case-actions").replaceChildren(...actions(c.case_id, c.verdict));
  $("case-pictures").replaceChildren(...c.pictures.filter((url) => url.endsWith(".jpg")).map((url) => {
    const img = document.createElement("img");
    img.src = url;
    img.alt = url.split("/").pop();
    return img;
  }));
}

async function show() {
  const caseId = new URLSearchParams(location.search).get("case");
  try {
    await (caseId ? casePage(caseId) : listing());
  } catch (error) {
    say(`cannot read the cases: ${error.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", show);
