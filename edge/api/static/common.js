// Shared by the operator pages: the token, authorised API calls, and pictures fetched with the token.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const session = { token: "" };

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${session.token}`, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (_) { /* not JSON */ }
    const error = new Error(typeof detail === "string" ? detail : `${response.status}`);
    error.status = response.status;
    error.problems = Array.isArray(detail) ? detail : [];
    throw error;
  }
  return response;
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function blobUrl(path) {
  // <img src> cannot send the token: fetch with it and show the bytes from a blob: URL.
  return URL.createObjectURL(await (await api("GET", path)).blob());
}

function useToken(value) {
  session.token = value.trim();
  sessionStorage.setItem("edge-token", session.token);
}

function startLogin(form, input) {
  // A token from "#token=..." or from this tab's session: connect at once, and clear the address bar.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  const token = fromHash || sessionStorage.getItem("edge-token");
  if (fromHash) history.replaceState(null, "", location.pathname);
  if (token) {
    input.value = token;
    form.requestSubmit();
  }
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}
