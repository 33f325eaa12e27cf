"""Verdicts between real processes: `edge run` on a real mosquitto, the stand-in platform, and HTTP.

The box's operator API refuses a malformed reason, an unknown case, another box's case, a missing token
and a second verdict, and answers a retry with the stored verdict; the platform's operator sends a
wrong_object verdict from its listing over the broker's command topic, the box answers on the reply
topic, suppresses the object and counts it in /api/quality and /metrics; the suppression is listed and
removable.
"""

from __future__ import annotations

import signal

import httpx
from mqtt_support import Mosquitto, needs_mosquitto
from test_delivery_support import wait_until
from test_fleet_mqtt import API_TOKEN, Box, start_receiver

pytestmark = needs_mosquitto
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_verdicts_over_http_and_from_the_platform_over_mqtt(tmp_path):
    with Mosquitto(tmp_path / "broker") as broker:
        receiver, platform, receiver_log = start_receiver(tmp_path, "platform", tmp_path / "platform.db", broker.url)
        box = Box(tmp_path, "box-j", broker.url).start()
        api = f"http://127.0.0.1:{box.api_port}"
        try:
            wait_until(lambda: "subscribed as" in receiver_log.read_text(), 30, "the platform to subscribe")
            wait_until(lambda: len(httpx.get(f"{platform}/api/cases").json()) >= 2, 180, "both parked vehicles")
            first, second = (c["case_id"] for c in httpx.get(f"{platform}/api/cases").json()[:2])

            def verdict(case_id: str, **body) -> httpx.Response:
                return httpx.post(f"{api}/api/cases/{case_id}/verdict", json=body, headers=AUTH, timeout=30)

            bad = verdict(first, request_id="h1", verdict="false_alarm", reason="ugly")
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "reason"]
            assert verdict("no-such-case", request_id="h1", verdict="confirmed").status_code == 404
            other = verdict(first, request_id="h1", verdict="confirmed", worker_id="box-elsewhere")
            assert other.status_code == 403 and "box-j" in other.json()["detail"]
            unauthorised = httpx.post(
                f"{api}/api/cases/{first}/verdict", json={"request_id": "h1", "verdict": "confirmed"}
            )
            assert unauthorised.status_code == 401
            stored = verdict(first, request_id="h1", verdict="confirmed", worker_id="box-j")
            assert stored.status_code == 200 and stored.json()["suppression_id"] is None
            retry = verdict(first, request_id="h1", verdict="confirmed", worker_id="box-j")
            assert retry.status_code == 200 and retry.json() == stored.json() | {"replayed": True}
            assert verdict(first, request_id="h2", verdict="false_alarm", reason="other").status_code == 409

            # the platform's operator, from its listing, over the broker's command topic
            def platform_verdict(case_id: str, **body) -> httpx.Response:
                return httpx.post(f"{platform}/api/cases/{case_id}/verdict", json=body, timeout=30)

            refused = platform_verdict(second, verdict="false_alarm", reason="looks odd")
            assert refused.status_code == 422 and refused.json()["code"] == "invalid"
            assert "reason" in refused.json()["detail"]
            rejected = platform_verdict(second, verdict="false_alarm", reason="wrong_object", note="not parked")
            assert rejected.status_code == 200, rejected.text
            answer = rejected.json()
            assert answer["command"] == "verdict" and answer["suppression_id"].startswith("sup-")
            listing = {c["case_id"]: c for c in httpx.get(f"{platform}/api/cases").json()}
            assert listing[second]["verdict"]["reason"] == "wrong_object" and listing[first]["verdict"] is None
            assert platform_verdict(second, verdict="confirmed").status_code == 409

            [entry] = httpx.get(f"{api}/api/suppressions", headers=AUTH).json()
            assert (entry["id"], entry["case_id"], entry["camera_id"]) == (answer["suppression_id"], second, "gate")
            quality = httpx.get(f"{api}/api/quality", headers=AUTH).json()
            [row] = quality["rules"]
            assert (row["confirmed"], row["false_alarms"], row["precision"], row["flagged"]) == (1, 1, 0.5, False)
            assert row["cases"] >= 2 and row["false_alarm_reasons"] == {"wrong_object": 1}
            metrics = httpx.get(f"{api}/metrics", headers=AUTH).text
            assert 'edge_rule_precision{camera="gate",rule="parked",zone="no-parking"} 0.5' in metrics
            assert 'edge_suppressions{camera="gate"} 1.0' in metrics

            gone = httpx.delete(f"{api}/api/suppressions/{entry['id']}", headers=AUTH)
            assert gone.status_code == 204
            assert httpx.delete(f"{api}/api/suppressions/{entry['id']}", headers=AUTH).status_code == 404
            assert httpx.get(f"{api}/api/suppressions", headers=AUTH).json() == []
        finally:
            receiver.terminate()
            receiver.wait(30)
            code = box.signal(signal.SIGTERM)
    assert code == 0, box.log.read_text()[-3000:]
    assert "Traceback" not in box.log.read_text()
