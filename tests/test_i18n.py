"""The zh-CN message catalogue: well-formed, complete for the editor page, and used by the CLI and the API."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser

import pytest
import yaml
from rich.console import Console

from edge.cli.replay import case_table
from edge.delivery.outbox import Outbox
from edge.i18n import CHINESE, ENGLISH, catalogue, cli_language, negotiate, text, translate

from conftest import EDGE, MODEL, REPO, STREAMS

STATIC = REPO / "edge" / "api" / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # ideographs, full-width punctuation


def test_every_entry_is_chinese_with_the_same_placeholders():
    for english, chinese in catalogue().items():
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(chinese)), english
        assert CJK.search(chinese) and chinese != english, english


class _PageTexts(HTMLParser):
    """The English texts of a page that i18n.js translates: text nodes (not option values) and tooltips."""

    SKIP = frozenset({"option", "select", "textarea", "script", "style"})

    def __init__(self) -> None:
        super().__init__()
        self.texts: set[str] = set()
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append(tag)
        self.texts |= {v for k, v in attrs if k in ("title", "alt") and v}

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if words and not self.SKIP & set(self._open) and re.search("[A-Za-z]{2}", words):
            self.texts.add(words)


def test_the_editor_page_and_its_scripts_have_every_text_in_the_catalogue():
    page = _PageTexts()
    page.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    script = set()
    for name in ("editor.js", "live.js"):  # the zone editor and its live view of what the rules see
        found = re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', (STATIC / name).read_text(encoding="utf-8"))
        assert len(found) > 10, name
        script |= set(found)
    assert len(page.texts) > 30
    missing = sorted((page.texts | script) - set(catalogue()))
    assert missing == []


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", CHINESE),
        ("zh", CHINESE),
        ("zh-Hans-CN", CHINESE),
        ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
        ("de-DE, zh-CN;q=0.5", CHINESE),
        ("zh-TW", ENGLISH),  # Traditional Chinese is not offered: English, not a guess
        ("fr", ENGLISH),
        (None, ENGLISH),
        ("zh;q=x", ENGLISH),
    ],
)
def test_accept_language(header, lang):
    assert negotiate(header) == lang


def test_finished_messages_are_translated_by_their_template():
    assert translate("Input should be greater than or equal to 0", CHINESE) == "输入应大于或等于 0"
    assert translate("Input should be greater than 0", CHINESE) == "输入应大于 0"
    nested = "edge run: error: cfg.yaml is invalid:\n  cameras[0].zones[0].polygon: the polygon has (almost) zero area"
    assert (
        translate(nested, CHINESE)
        == "edge run：错误：cfg.yaml 无效：\n  cameras[0].zones[0].polygon：多边形的面积（几乎）为零"
    )
    assert translate("something nobody wrote down", CHINESE) == "something nobody wrote down"
    assert translate("the polygon has (almost) zero area", ENGLISH) == "the polygon has (almost) zero area"
    assert text("Delete zone {zone}?", CHINESE, zone="kerb") == "删除区域 kerb 吗？"
    assert text("Delete zone {zone}?", ENGLISH, zone="kerb") == "Delete zone kerb?"
    assert cli_language({"EDGE_LANG": "zh_CN.UTF-8"}) == CHINESE and cli_language({}) == ENGLISH


def test_the_replay_table_in_chinese():
    console = Console(record=True, width=160)
    console.print(case_table([], CHINESE))
    out = console.export_text()
    assert "案件" in out and "首次发现（UTC）" in out and "置信度" in out


def test_cli_errors_follow_edge_lang(tmp_path, edge_env):
    config = yaml.safe_load((STREAMS / "demo.yaml").read_text(encoding="utf-8"))
    config["models"][0]["path"] = str(MODEL)
    config["cameras"][0]["zones"][0]["polygon"] = [[0.1, 0.6], [0.3, 0.8], [0.3, 0.6], [0.1, 0.8]]
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    command = [*EDGE, "replay", "--config", str(path), str(STREAMS / "vtest.avi")]
    chinese = subprocess.run(command, env={**edge_env, "EDGE_LANG": "zh-CN"}, capture_output=True, text=True)
    english = subprocess.run(command, env=edge_env, capture_output=True, text=True)
    assert chinese.returncode == english.returncode == 2
    assert "edge replay：错误：" in chinese.stderr and "polygon：多边形的边相互交叉（自相交）" in chinese.stderr
    assert "edge replay: error: " in english.stderr and "(self-intersecting)" in english.stderr
    assert "Traceback" not in chinese.stderr + english.stderr


def test_outbox_status_follows_edge_lang(tmp_path, edge_env):
    path = tmp_path / "outbox.db"
    Outbox(path).close()
    command = [*EDGE, "outbox", "--outbox", str(path), "status"]
    chinese = subprocess.run(command, env={**edge_env, "EDGE_LANG": "zh-CN"}, capture_output=True, text=True)
    english = subprocess.run(command, env=edge_env, capture_output=True, text=True)
    assert chinese.returncode == english.returncode == 0, chinese.stderr
    assert "待发送      0" in chinese.stdout and "已送达      0" in chinese.stdout
    assert "pending     0" in english.stdout and "delivered   0" in english.stdout
