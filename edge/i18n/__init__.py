"""Simplified Chinese for operators: one message catalogue, `zh-CN.json`, from English source text to zh-CN.

English is the source and the default. Each entry maps an English message or template (`{name}` for a
value) to its Simplified Chinese form; the API (its error `detail` texts, by `Accept-Language`), the zone
editor page (which loads the same file as a script) and the CLI (`EDGE_LANG=zh-CN`) all read this one file.

Why a catalogue of English templates translated at the boundary rather than gettext: the messages an
operator reads are formatted in English where they arise (config and zone validation, pydantic's own
messages, routes, the CLI), often far from any request. Translating the finished text by its template
where it leaves the box keeps every stage free of language logic and every call site unchanged, needs no
compile step (.mo files) and gives the browser the very same file; gettext would need `_()` at every call
site (and cannot reach pydantic's messages) plus a second format for the page. A message without an
entry is shown in English; tests check that every entry's placeholders match.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)
ENV_VAR = "EDGE_LANG"  # the CLI's language: en (default) or zh-CN
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, str]:
    """English template -> zh-CN template (the file shipped with the package)."""
    path = Path(__file__).with_name(f"{CHINESE}.json")
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Templates with placeholders as regexes that match a formatted English message."""
    out = []
    for english, chinese in catalogue().items():
        if not _PLACEHOLDER.search(english):
            continue
        parts = _PLACEHOLDER.split(english)  # literal, name, literal, name, ...
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        out.append((len("".join(parts[::2])), re.compile(regex, re.DOTALL), chinese))
    out.sort(key=lambda entry: -entry[0])  # the most specific first: "greater than or equal to" before "{x}"
    return [(pattern, chinese) for _, pattern, chinese in out]


def language(tag: str | None) -> str:
    """A language tag (zh, zh-CN, zh-Hans, zh_CN.UTF-8, en-GB ...) -> a supported language; English otherwise."""
    tag = (tag or "").strip().split(".")[0].replace("_", "-").lower()
    if tag in ("zh", "zh-cn", "zh-hans", "zh-sg") or tag.startswith("zh-hans-"):
        return CHINESE
    return ENGLISH


def negotiate(accept_language: str | None) -> str:
    """The best supported language of an Accept-Language header (by q-value, then order)."""
    ranked = []
    for i, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        if tag.lower().startswith("zh") and language(tag) == CHINESE:
            return CHINESE
        if tag.lower().startswith("en") or tag == "*":
            return ENGLISH
    return ENGLISH


def cli_language(env: Mapping[str, str] = os.environ) -> str:
    """The CLI's language: `EDGE_LANG` (en or zh-CN), English when unset."""
    return language(env.get(ENV_VAR))


def text(template: str, lang: str, **values: object) -> str:
    """A catalogue template in `lang`, filled in (the template is its own English form)."""
    return _fill(catalogue().get(template, template) if lang == CHINESE else template, values)


def translate(message: str, lang: str) -> str:
    """A finished English message in `lang`: by its catalogue entry, or the template it was formatted from.

    The values a template captured are translated too (a message may carry another, e.g. a CLI error)."""
    if lang != CHINESE or not message:
        return message
    table = catalogue()
    exact = table.get(message) or table.get(_SPACE.sub(" ", message).strip())
    if exact is not None:
        return exact
    for pattern, chinese in _patterns():
        found = pattern.fullmatch(message)
        if found is not None:
            return _fill(chinese, {k: translate(v, lang) for k, v in found.groupdict().items()})
    if "\n" in message:  # a list of problems, one per line
        return "\n".join(translate(line, lang) for line in message.split("\n"))
    return message


def _fill(template: str, values: Mapping[str, object]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)
