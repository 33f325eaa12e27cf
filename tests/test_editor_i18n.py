"""The zone editor in Simplified Chinese, in real headless Chromium (browser locale zh-CN, so its
requests say Accept-Language: zh-CN): the page's labels are Chinese, and a self-intersecting polygon
is refused with the API's Chinese message. The screenshot is kept in test-artifacts/ (or
$TEST_ARTIFACTS) for a person to look at. English stays the default (tests/test_editor.py).
"""

from __future__ import annotations

import os
import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from test_api_support import AUTH, CAMERA, ENV, TOKEN, PipelineWorker
from test_editor import ARGS, CHROMIUM, _click

from edge.api import create_app
from edge.http_server import ThreadedServer

from conftest import REPO

ARTIFACTS = os.environ.get("TEST_ARTIFACTS") or str(REPO / "test-artifacts")
BOW_TIE = [(0.10, 0.60), (0.30, 0.80), (0.30, 0.60), (0.10, 0.80)]  # two edges cross


@pytest.fixture
def chinese_editor(tmp_path):
    worker = PipelineWorker(tmp_path).start()
    worker.step()
    app = create_app(worker, worker.zone_store, env=ENV)
    with ThreadedServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/editor/#token={TOKEN}")
        expect(page.locator("#frame")).to_have_attribute("src", re.compile(r"^blob:"))
        yield page, server.url, worker
        browser.close()
        worker.close()
        assert errors == []


def test_the_editor_in_chinese_refuses_a_self_intersecting_zone_in_chinese(chinese_editor):
    page, url, worker = chinese_editor
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("区域编辑器")
    expect(page.locator("#save")).to_have_text("保存并应用")
    expect(page.locator("#new-zone")).to_have_text("新建区域")
    expect(page.locator("#zone-box legend")).to_have_text("区域")
    expect(page.locator("#stream")).to_have_text(re.compile(r"^视频流：streaming，最新画面在 \d+ 秒前$"))
    assert page.title() == "edge 区域编辑器"

    page.click("#new-zone")
    page.fill("#zone-id", "crossed")
    for x, y in BOW_TIE:
        _click(page, x, y)
    expect(page.locator("#point-count")).to_have_text("4")
    page.select_option("#rule-event", "0505")
    page.select_option("#rule-classes", ["car"])
    page.click("#save")
    expect(page.locator("#problems")).to_contain_text("polygon: 多边形的边相互交叉（自相交）")
    expect(page.locator("#status")).to_contain_text("未保存")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "editor-zh-CN-self-intersecting.png"), full_page=True)
    assert worker.applied == []

    # the API's own answer, in either language
    zone = {"id": "crossed", "polygon": [list(p) for p in BOW_TIE], "rules": []}
    for lang, expected in (("zh-CN,zh;q=0.9", "多边形的边相互交叉（自相交）"), ("en-GB", "(self-intersecting)")):
        answer = httpx.post(
            f"{url}/api/cameras/{CAMERA}/zones", json=zone, headers={**AUTH, "Accept-Language": lang}, timeout=10
        )
        assert answer.status_code == 422 and expected in answer.json()["detail"][0]["msg"]
        assert answer.headers["content-language"] == lang.split(",")[0].replace("en-GB", "en")
    chinese = {"Authorization": "Bearer nope", "Accept-Language": "zh"}
    wrong = httpx.get(f"{url}/api/cameras", headers=chinese, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Bearer 令牌错误"
