"""The stand-in platform sends its operator's verdict to a box's operator API over real HTTP.

A real box API (real pipeline on vtest frames, real detector) and a real receiver, each on 127.0.0.1:
the receiver holds the box's cases, forwards a verdict to the box that reported the case, passes the
box's refusals on as they are, and lists the verdict the box accepted with the case. Its operator
sends them from the platform's listing and case pages in a real browser.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect, sync_playwright
from test_api_support import AUTH, CAMERA, ENV, TOKEN, TOP_RIGHT, PipelineWorker, zone
from test_delivery_support import running_receiver
from test_editor import ARGS, CHROMIUM
from test_receiver import post

from edge.api import create_app
from edge.http_server import ThreadedServer
from edge.receiver.verdicts import HttpVerdicts


def test_the_platform_operator_rejects_a_case_through_the_boxs_api(tmp_path):
    worker = PipelineWorker(tmp_path).start()
    try:
        with ThreadedServer(create_app(worker, worker.zone_store, env=ENV)) as box:
            change = zone("no-parking-gate", TOP_RIGHT, id="parked-vehicle", min_duration_s=4)
            saved = httpx.put(f"{box.url}/api/cameras/{CAMERA}/zones/no-parking-gate", json=change, headers=AUTH)
            assert saved.status_code == 200, saved.text
            new = []
            while len(new) < 2:
                new += [m for m in worker.step() if m.kind == "new"]
            with (
                running_receiver(tmp_path / "platform.db", verdicts=HttpVerdicts(box.url, TOKEN)) as platform,
                running_receiver(
                    tmp_path / "other.db", verdicts=HttpVerdicts(box.url, "wrong-token-0123456789")
                ) as bad,
            ):
                for message in new:
                    assert post(platform.url, message).status_code == 201
                    assert post(bad.url, message).status_code == 201
                first, second = (m.case_id for m in new)

                def verdict(url: str, case_id: str, **body) -> httpx.Response:
                    return httpx.post(f"{url}/api/cases/{case_id}/verdict", json=body, timeout=30)

                refused = verdict(platform.url, first, verdict="false_alarm")  # no reason: the box says why
                assert refused.status_code == 422 and "needs a 'reason'" in refused.json()["detail"][0]["msg"]
                assert verdict(platform.url, "no-such-case", verdict="confirmed").status_code == 404
                assert verdict(bad.url, first, verdict="confirmed").status_code == 401

                accepted = verdict(platform.url, first, verdict="false_alarm", reason="wrong_object", note="a shadow")
                assert accepted.status_code == 200, accepted.text
                answer = accepted.json()
                assert answer["suppression_id"] and answer["note"] == "a shadow" and not answer["replayed"]
                case = httpx.get(f"{platform.url}/api/cases/{first}").json()
                assert case["verdict"] == answer
                listing = {c["case_id"]: c["verdict"] for c in httpx.get(f"{platform.url}/api/cases").json()}
                assert listing == {first: answer, second: None}
                again = verdict(platform.url, first, verdict="confirmed")
                assert again.status_code == 409 and "already has a verdict" in again.json()["detail"]
                assert httpx.get(f"{platform.url}/api/cases/{first}").json()["verdict"] == answer

                with sync_playwright() as playwright:  # the platform operator's pages
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    page = browser.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(f"{platform.url}/")
                    row = page.locator(f"tr[data-case='{second}']")
                    expect(page.locator(f"tr[data-case='{first}'].rejected")).to_contain_text("wrong_object")
                    row.locator("button[data-verdict=not_a_violation]").click()
                    expect(row).to_contain_text("false_alarm (not_a_violation)")
                    expect(row.locator("button")).to_have_count(0)
                    page.goto(f"{platform.url}/platform/?case={first}")
                    expect(page.locator("#case-verdict")).to_contain_text("false_alarm (wrong_object)")
                    expect(page.locator("#case-pictures img").first).to_be_visible()
                    browser.close()
                    assert errors == []
                assert httpx.get(f"{box.url}/api/quality", headers=AUTH).json()["rules"][0]["false_alarms"] == 2
    finally:
        worker.close()
