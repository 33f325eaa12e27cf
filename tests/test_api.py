"""The operator API over HTTP: zone and rule CRUD, validation messages, hot apply, versions, frames, cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_api_support import BOTTOM_LEFT, CAMERA, ENV, TOP_RIGHT, PipelineWorker, client_for, demo_config, zone

from edge.api import create_app
from edge.config import ConfigError
from edge.zones.store import ZoneStore

ZONES = f"/api/cameras/{CAMERA}/zones"


@pytest.fixture
def worker(tmp_path):
    worker = PipelineWorker(tmp_path).start()
    yield worker
    worker.close()


@pytest.fixture
def client(worker):
    with client_for(worker) as client:
        yield client


def test_zone_crud_round_trip_with_versions(client, worker):
    listed = client.get(ZONES)
    assert listed.status_code == 200 and listed.headers["ETag"] == '"1"'
    assert [z["id"] for z in listed.json()["zones"]] == ["no-parking-gate", "plaza"]

    created = client.post(ZONES, json=zone("kerb", BOTTOM_LEFT))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 2 and created.headers["ETag"] == '"2"'
    assert created.json()["zone"]["rules"][0]["model"] == "coco"  # "default" resolved as the worker runs it
    assert client.post(ZONES, json=zone("kerb", BOTTOM_LEFT)).status_code == 409

    moved = zone("kerb", TOP_RIGHT, min_duration_s=5)
    replaced = client.put(f"{ZONES}/kerb", json=moved)
    assert replaced.status_code == 200 and replaced.json()["version"] == 3
    got = client.get(f"{ZONES}/kerb").json()
    assert got["zone"]["polygon"] == TOP_RIGHT and got["zone"]["rules"][0]["min_duration_s"] == 5

    rules = f"{ZONES}/kerb/rules"
    rule = {"id": "bikes", "kind": "count", "event_code": "0506", "min_count": 3}
    assert client.post(rules, json=rule).status_code == 201
    assert client.post(rules, json=rule).status_code == 409
    assert client.put(f"{rules}/bikes", json=rule | {"min_count": 5}).json()["rule"]["min_count"] == 5
    assert [r["id"] for r in client.get(rules).json()["rules"]] == ["parked", "bikes"]
    assert client.delete(f"{rules}/bikes").json()["version"] == 6
    assert client.get(f"{rules}/bikes").status_code == 404

    assert client.delete(f"{ZONES}/kerb").json() == {"camera_id": CAMERA, "version": 7}
    gone = client.get(f"{ZONES}/kerb")
    assert gone.status_code == 404 and "no zone 'kerb'" in gone.json()["detail"]
    assert worker.applied == [2, 3, 4, 5, 6, 7]  # every change went to the running camera
    history = client.get(f"/api/cameras/{CAMERA}/zone-history").json()
    assert [h["version"] for h in history] == [7, 6, 5, 4, 3, 2, 1]
    assert history[0]["note"] == "zone kerb deleted"


def test_unknown_camera_zone_or_rule_is_404_naming_what_exists(client):
    assert client.get("/api/cameras/nope/zones").json()["detail"] == "no camera 'nope'; cameras: ['campus-north']"
    assert client.put(f"{ZONES}/nope", json=zone("nope", TOP_RIGHT)).status_code == 404
    missing = client.get(f"{ZONES}/plaza/rules/nope")
    assert missing.status_code == 404 and "there are: ['street-vendor']" in missing.json()["detail"]


def _with(**changes):
    return zone("z", TOP_RIGHT) | changes


def _rule(**changes):
    return zone("z", TOP_RIGHT, **changes)


INVALID = [
    (_with(polygon=[[0.1, 0.1], [0.5, 0.5]]), ["body", "polygon"], "needs 3 to 20 points, got 2"),
    (_with(polygon=[[0.0, 0.0], [0.1, 0.0]] * 11), ["body", "polygon"], "needs 3 to 20 points, got 22"),
    (_with(polygon=[[0.1, 0.1], [1.2, 0.1], [0.5, 0.5]]), ["body", "polygon"], "point 1 (1.2, 0.1) is outside"),
    (_with(polygon=[[0, 0], [1, 1], [1, 0], [0, 1]]), ["body", "polygon"], "self-intersecting"),
    (_with(polygon=[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]), ["body", "polygon"], "zero area"),
    (_with(id="bad id!"), ["body", "id"], "should match pattern"),
    (_with(extra=1), ["body", "extra"], "Extra inputs are not permitted"),
    (_rule(event_code="9999"), ["body"], "rule 'parked': unknown event code '9999'; known: ['0102'"),
    (_rule(event_code="55"), ["body", "rules", 0, "event_code"], "4 digits like '0505'"),
    (_rule(classes=["car", "dragon"]), ["body", "rules", 0], "model 'coco' has no classes ['dragon']"),
    (_rule(model="yolo"), ["body"], "unknown model 'yolo'; known: ['coco']"),
    (_rule(min_score=1.5), ["body", "rules", 0, "min_score"], "less than or equal to 1"),
    (_rule(min_score="0.5"), ["body", "rules", 0, "min_score"], "Input should be a valid number"),
    (_rule(enabled=0), ["body", "rules", 0, "enabled"], "Input should be a valid boolean"),
    (_rule(kind="combination"), ["body", "rules", 0], "at least two non-empty class groups"),
    (_rule(kind="occupancy"), ["body", "rules", 0], "needs min_coverage > 0"),
    (_rule(classes=["car", "person"], plates=True), ["body"], "rule 'parked': plates: true is for vehicle classes"),
    (
        _rule(schedule={"windows": [{"start": "25:00", "end": "19:00"}]}),
        ["body", "rules", 0, "schedule", "windows", 0, "start"],
        "time must be HH:MM between 00:00 and 24:00, got '25:00'",
    ),
    (
        _rule(schedule={"windows": [{"start": "07:00", "end": "07:00"}]}),
        ["body", "rules", 0, "schedule", "windows", 0],
        "window 07:00-07:00 is empty",
    ),
    (_rule(schedule={"windows": []}), ["body", "rules", 0, "schedule", "windows"], "at least 1 item"),
    (
        _rule(schedule={"windows": [{"days": ["mon", "mon"]}]}),
        ["body", "rules", 0, "schedule", "windows", 0, "days"],
        "weekdays repeated",
    ),
]


@pytest.mark.parametrize(("body", "loc", "message"), INVALID)
def test_invalid_zone_is_422_with_a_clear_message_and_nothing_is_saved(client, worker, body, loc, message):
    answer = client.post(ZONES, json=body)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert any(p["loc"] == loc and message in p["msg"] for p in problems), problems
    assert all(set(p) == {"loc", "msg"} for p in problems)  # no echo of the input
    assert worker.zone_store.load().version == 1 and worker.applied == []


def test_body_and_url_must_name_the_same_zone_and_rule(client):
    answer = client.put(f"{ZONES}/plaza", json=zone("elsewhere", TOP_RIGHT))
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"loc": ["body", "id"], "msg": "zone id 'elsewhere' differs from the URL's 'plaza'"}
    ]
    rule = {"id": "other", "event_code": "0501", "classes": ["person"]}
    assert client.put(f"{ZONES}/plaza/rules/street-vendor", json=rule).status_code == 422


def test_malformed_json_is_422_not_500(client):
    answer = client.post(ZONES, content=b'{"id": "z", "polygon": [[0', headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][0] == "body"


def test_if_match_refuses_a_change_based_on_an_older_version(client, worker):
    version = client.get(ZONES).headers["ETag"]
    assert (
        client.put(f"{ZONES}/plaza", json=zone("plaza", BOTTOM_LEFT), headers={"If-Match": version}).status_code == 200
    )
    stale = client.put(f"{ZONES}/plaza", json=zone("plaza", TOP_RIGHT), headers={"If-Match": version})
    assert stale.status_code == 412
    assert 'now at version 2, not "1"' in stale.json()["detail"]
    assert client.get(f"{ZONES}/plaza").json()["zone"]["polygon"] == BOTTOM_LEFT  # the first edit stands
    assert client.delete(f"{ZONES}/plaza", headers={"If-Match": "*"}).status_code == 200
    assert worker.applied == [2, 3]


def test_hot_apply_takes_effect_on_the_next_frame_and_cases_carry_the_zone_version(client, worker):
    worker.step(2)
    assert {p.label for p in worker.rule_places("no-parking-gate")} == {"car", "truck"}  # parked van and car

    # Move the zone onto the grass: at the very next frame nothing is timed in it any more.
    assert client.put(f"{ZONES}/no-parking-gate", json=zone("no-parking-gate", BOTTOM_LEFT)).json()["version"] == 2
    worker.step()
    assert worker.rule_places("no-parking-gate") == []
    assert worker.pipeline.snapshot().zone_version == 2

    # Back over the vehicles with a short dwell: the next frames open cases under version 3.
    back = zone("no-parking-gate", TOP_RIGHT, min_duration_s=1)
    assert client.put(f"{ZONES}/no-parking-gate", json=back).json()["version"] == 3
    messages = worker.step(4)
    new = [m for m in messages if m.kind == "new"]
    assert len(new) == 2 and {m.body["zone"]["version"] for m in new} == {3}
    assert {m.body["rule"]["id"] for m in new} == {"parked"}

    listed = client.get("/api/cases", params={"camera_id": CAMERA}).json()
    assert {c["case_id"] for c in listed} == {m.case_id for m in new}
    assert {(c["zone_id"], c["zone_version"], c["event_code"]) for c in listed} == {("no-parking-gate", 3, "0505")}


def test_saved_zones_survive_a_restart_at_their_version(client, worker, tmp_path):
    client.put(f"{ZONES}/plaza", json=zone("plaza", BOTTOM_LEFT))
    config, versions = ZoneStore(tmp_path / "zones.json").adopt(demo_config(tmp_path / "var"))
    assert config.camera(CAMERA).zones[1].polygon == BOTTOM_LEFT and versions == {CAMERA: 2}


def test_latest_frame_as_jpeg_with_and_without_zones(client, worker):
    early = client.get(f"/api/cameras/{CAMERA}/frame.jpg")
    assert early.status_code == 404 and "has not delivered a frame yet" in early.json()["detail"]
    worker.step()
    plain = client.get(f"/api/cameras/{CAMERA}/frame.jpg", params={"zones": "false"})
    drawn = client.get(f"/api/cameras/{CAMERA}/frame.jpg")
    assert plain.headers["content-type"] == drawn.headers["content-type"] == "image/jpeg"
    assert (plain.headers["X-Frame-Width"], plain.headers["X-Frame-Height"]) == ("768", "576")
    a, b = (cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR) for r in (plain, drawn))
    assert a.shape == b.shape == (576, 768, 3)
    assert np.abs(a.astype(int) - worker.latest.image).mean() < 4  # the frame itself, JPEG-encoded
    # The gate zone's left edge (x = 0.8 of the width) is outlined in amber on the drawn frame only.
    edge = np.s_[40:140, 612:618]
    assert np.abs(b[edge].astype(int) - a[edge]).mean() > 20


def test_recent_cases_link_their_evidence_and_urls_cannot_escape(client, worker):
    client.put(f"{ZONES}/no-parking-gate", json=zone("no-parking-gate", TOP_RIGHT, min_duration_s=1))
    new = [m for m in worker.step(4) if m.kind == "new"]
    case = client.get("/api/cases", params={"limit": 1}).json()
    assert len(case) == 1
    listed = client.get(f"/api/cases/{new[0].case_id}").json()
    [entry] = listed
    assert {p["name"] for p in entry["pictures"]} == set(new[0].pictures)
    for link in entry["pictures"]:
        picture = client.get(link["url"])
        assert picture.headers["content-type"] == "image/jpeg"
        assert picture.content == new[0].pictures[link["name"]]
    for url in (
        f"/api/cases/{new[0].case_id}/pictures/..%2F..%2F..%2Fetc%2Fpasswd",
        f"/api/cases/{new[0].case_id}/pictures/.hidden",
        f"/api/cases/{new[0].case_id}/pictures/%2E%2E",
        "/api/cases/..%2F..%2Fetc/pictures/passwd",
        f"/api/cases/{new[0].case_id}/pictures/%2Fetc%2Fpasswd",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert b"root:" not in answer.content


def test_outbox_status_dead_letters_resend_and_discard(client, worker):
    client.put(f"{ZONES}/no-parking-gate", json=zone("no-parking-gate", TOP_RIGHT, min_duration_s=1))
    worker.step(4)
    assert client.get("/api/outbox").json()["pending"] == 2
    first = worker.outbox.next_ready(now=1e12)
    worker.outbox.mark_dead(first.pk, "http", 400, "platform says: grid_code unknown")
    status = client.get("/api/outbox").json()
    assert (status["pending"], status["dead"]) == (1, 1)
    [dead] = client.get("/api/outbox/dead").json()
    assert dead["message_id"] == first.message.message_id and dead["response"] == "platform says: grid_code unknown"

    assert client.post("/api/outbox/dead/nope:1/resend").status_code == 404
    assert client.post(f"/api/outbox/dead/{dead['message_id']}/resend").json() == {"resent": 1}
    assert client.get("/api/outbox").json()["pending"] == 2

    worker.outbox.mark_dead(first.pk, "http", 400, "again")
    assert client.post(f"/api/outbox/dead/{dead['message_id']}/discard").json() == {"discarded": True}
    assert client.post(f"/api/outbox/dead/{dead['message_id']}/discard").status_code == 404
    assert client.get("/api/outbox").json()["discarded"] == 1


def test_cameras_catalog_and_readiness(client, worker):
    worker.step()
    [camera] = client.get("/api/cameras").json()
    assert camera["id"] == CAMERA and camera["zone_version"] == 1 and camera["zones"] == 2
    assert camera["health"]["state"] == "streaming" and camera["health"]["last_frame_age_s"] is not None
    catalog = client.get("/api/catalog").json()
    assert {"0505", "0501"} <= {e["code"] for e in catalog["events"]}
    [model] = catalog["models"]
    assert model["id"] == "coco" and model["loaded"] and {"car", "truck", "person"} <= set(model["classes"])
    assert "dwell" in catalog["rule_kinds"]
    ready = {"ready": True, "cameras": {CAMERA: "streaming"}, "disk_state": "ok", "accepting_cases": True}
    ready["patrol"] = None  # no patrol camera
    ready["stages"] = {"failed": [], "details": [], "restarts": {}, "finished": []}  # every stage thread runs
    assert client.get("/readyz").json() == ready
    worker.ready = False
    assert client.get("/readyz").status_code == 503


def test_metrics_report_cameras_inference_cases_outbox_and_zone_versions(client, worker):
    client.put(f"{ZONES}/no-parking-gate", json=zone("no-parking-gate", TOP_RIGHT, min_duration_s=1))
    worker.step(4)
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    lines = dict(line.rsplit(" ", 1) for line in answer.text.splitlines() if line and not line.startswith("#"))
    cam = f'camera="{CAMERA}"'
    assert float(lines[f'edge_camera_state{{{cam},state="streaming"}}']) == 1
    assert float(lines[f"edge_camera_analysed_fps{{{cam}}}"]) > 0
    assert float(lines[f"edge_camera_reconnects_total{{{cam}}}"]) == 0
    assert float(lines[f"edge_camera_decode_switches_total{{{cam}}}"]) == 0
    assert float(lines['edge_inference_batch_size_count{model="coco"}']) == 4
    assert float(lines['edge_inference_frames_total{model="coco"}']) == 4
    assert float(lines['edge_inference_seconds_total{model="coco"}']) > 0
    assert float(lines[f"edge_frame_lag_seconds_count{{{cam}}}"]) == 4
    assert float(lines[f'edge_case_messages_total{{{cam},kind="new"}}']) == 2
    assert float(lines['edge_outbox_messages{state="pending"}']) == 2
    assert float(lines[f"edge_zone_version{{{cam}}}"]) == 2
    assert float(lines["edge_worker_ready"]) == 1


def test_a_zone_store_that_never_adopted_the_config_is_refused_at_start(worker, tmp_path):
    with pytest.raises(ConfigError, match=r"does not know cameras \['campus-north'\]: call ZoneStore.adopt"):
        create_app(worker, ZoneStore(tmp_path / "other.json"), env=ENV)
