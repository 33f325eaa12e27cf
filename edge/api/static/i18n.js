// The operator pages' texts in the browser's language: one lookup, t(), over the catalogue the server sends
// as catalog.js (negotiated by Accept-Language from edge/i18n/zh-CN.json). English is the source and default.
"use strict";

const CATALOGUE = typeof I18N === "object" ? I18N : { lang: "en", messages: {} };

function t(template, values = {}) {
  const chosen = CATALOGUE.messages[template] ?? template;
  return chosen.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function translatePage(root) {
  // The page's own English texts and tooltips, in place; option texts are values and stay as they are.
  document.documentElement.lang = CATALOGUE.lang;
  document.title = t(document.title);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("option, select, textarea, script, style")) continue;
    const source = node.nodeValue.replace(/\s+/g, " ").trim();
    if (source && source in CATALOGUE.messages) {
      node.nodeValue = node.nodeValue.replace(/\S(?:[\s\S]*\S)?/, CATALOGUE.messages[source]);
    }
  }
  for (const el of root.querySelectorAll("[title], [alt]")) {
    for (const name of ["title", "alt"]) {
      if (el.hasAttribute(name)) el.setAttribute(name, t(el.getAttribute(name)));
    }
  }
}

if (CATALOGUE.lang !== "en") translatePage(document.body);
