"""The zone editor in real headless Chromium against the API on a real uvicorn server.

An operator draws a zone on the camera's latest frame, picks the rule's parameters and saves;
the API then returns exactly that zone and the running camera got it. Then a point is dragged,
and a broken polygon is refused with the API's message shown on the page.
"""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from test_api_support import AUTH, CAMERA, ENV, TOKEN, PipelineWorker

from edge.api import create_app
from edge.http_server import ThreadedServer
from edge.ingest.health import StreamState

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--disable-sync"]
KERB = [(0.10, 0.60), (0.30, 0.60), (0.30, 0.80), (0.10, 0.80)]


@pytest.fixture
def editor(tmp_path):
    worker = PipelineWorker(tmp_path).start()
    worker.step()
    app = create_app(worker, worker.zone_store, env=ENV)
    with ThreadedServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/editor/#token={TOKEN}")
        expect(page.locator("#frame")).to_have_attribute("src", re.compile(r"^blob:"))
        expect(page.locator("#zones option")).to_have_count(2)
        yield page, server.url, worker
        browser.close()
        assert errors == []


def _click(page: Page, x: float, y: float) -> None:
    box = page.locator("#overlay").bounding_box()
    page.locator("#overlay").click(position={"x": x * box["width"], "y": y * box["height"]})


def _zone(url: str, zone_id: str) -> dict:
    answer = httpx.get(f"{url}/api/cameras/{CAMERA}/zones/{zone_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_draw_a_zone_pick_its_rule_save_and_the_api_returns_it(editor):
    page, url, worker = editor
    assert "#token" not in page.url  # the token is not left in the address bar
    page.click("#new-zone")
    page.fill("#zone-id", "kerb")
    page.fill("#zone-name", "Kerb by the lawn")
    for x, y in KERB:
        _click(page, x, y)
    expect(page.locator("#point-count")).to_have_text("4")
    page.select_option("#rule-event", "0505")
    page.select_option("#rule-classes", ["car", "truck"])
    page.fill("#rule-min-duration", "45")
    page.fill("#rule-min-score", "0.4")
    page.click("#save")
    expect(page.locator("#status")).to_contain_text("Saved zone kerb as version 2")

    saved = _zone(url, "kerb")
    assert saved["version"] == 2 and saved["zone"]["name"] == "Kerb by the lawn"
    assert np.allclose(saved["zone"]["polygon"], KERB, atol=0.01)
    [rule] = saved["zone"]["rules"]
    assert (rule["event_code"], rule["classes"], rule["min_duration_s"], rule["min_score"]) == (
        "0505",
        ["car", "truck"],
        45,
        0.4,
    )
    assert worker.applied == [2]  # hot-applied to the running camera

    # Drag the second point up and to the right, and save again.
    box = page.locator("#overlay").bounding_box()
    start = (box["x"] + 0.30 * box["width"], box["y"] + 0.60 * box["height"])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.40 * box["width"], box["y"] + 0.50 * box["height"], steps=5)
    page.mouse.up()
    page.click("#save")
    expect(page.locator("#status")).to_contain_text("as version 3")
    moved = _zone(url, "kerb")["zone"]["polygon"]
    assert np.allclose(moved, [KERB[0], (0.40, 0.50), *KERB[2:]], atol=0.01)
    assert worker.applied == [2, 3]


def test_a_broken_zone_is_refused_and_the_reason_shown(editor):
    page, url, worker = editor
    page.select_option("#zones", "plaza")
    for _ in range(2):
        page.click("#undo-point")
    expect(page.locator("#point-count")).to_have_text("2")
    page.click("#save")
    expect(page.locator("#problems")).to_contain_text("polygon: a zone polygon needs 3 to 20 points, got 2")
    expect(page.locator("#status")).to_contain_text("Not saved")
    assert len(_zone(url, "plaza")["zone"]["polygon"]) == 4 and worker.applied == []


def test_the_page_names_zones_and_says_when_the_frame_is_not_live(editor):
    page, _, worker = editor
    # each outline carries its zone id, so the operator can tell them apart on the picture
    expect(page.locator("#overlay text")).to_have_text(["no-parking-gate", "plaza"])
    # no zone picked: the rule form is empty, not the values of a rule that does not exist
    expect(page.locator("#rule-id")).to_be_disabled()
    expect(page.locator("#rule-id")).to_have_value("")
    expect(page.locator("#rule-classes option")).to_have_count(0)
    expect(page.locator("#stream")).to_have_text(re.compile(r"^Stream: streaming, last frame \d+ s ago$"))
    worker.health.transition(CAMERA, StreamState.STOPPED)
    page.click("#refresh")
    expect(page.locator("#stream")).to_have_text(re.compile(r"^Stream: stopped"))
    expect(page.locator("#stream")).to_have_class("stale")


def test_double_click_removes_a_point_and_unsaved_edits_are_not_dropped_silently(editor):
    page, url, worker = editor
    page.select_option("#zones", "plaza")
    expect(page.locator("#point-count")).to_have_text("4")
    _click(page, 0.5, 0.55)  # a fifth point in the middle of the plaza
    expect(page.locator("#point-count")).to_have_text("5")
    box = page.locator("#overlay").bounding_box()
    page.mouse.dblclick(box["x"] + 0.5 * box["width"], box["y"] + 0.55 * box["height"])
    expect(page.locator("#point-count")).to_have_text("4")
    assert page.evaluate("getSelection().toString()") == ""  # the picture was not selected instead

    _click(page, 0.5, 0.55)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.select_option("#zones", "no-parking-gate")
    assert asked == ["Discard the unsaved changes to zone plaza?"]
    expect(page.locator("#zone-id")).to_have_value("plaza")  # still editing it, with the new point
    expect(page.locator("#point-count")).to_have_text("5")
    page.once("dialog", lambda dialog: dialog.accept())
    page.select_option("#zones", "no-parking-gate")
    expect(page.locator("#zone-id")).to_have_value("no-parking-gate")
    assert len(_zone(url, "plaza")["zone"]["polygon"]) == 4 and worker.applied == []
