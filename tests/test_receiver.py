"""The stand-in platform over real HTTP: exactly-once storage, listing, pictures, auth, faults."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest
from test_delivery_support import jpeg, message, running_receiver

from edge.cases.contract import case_json_schema
from edge.delivery.outbox import Outbox
from edge.delivery.wire import IDEMPOTENCY_HEADER, build_request, sign
from edge.receiver.faults import Faults

from conftest import EDGE, REPO


def post(url: str, msg, *, token=None, secret=None, now=None, thinned=()) -> httpx.Response:
    request = build_request(
        f"{url}/api/cases", msg, msg.pictures, thinned, token=token, hmac_secret=secret, now=now or time.time()
    )
    with httpx.Client() as client:
        return client.send(request)


def test_stores_case_and_serves_it_back(tmp_path):
    msg = message(1, 0)
    with running_receiver(tmp_path / "r.db") as srv:
        answer = post(srv.url, msg)
        assert answer.status_code == 201
        assert answer.json()["message_id"] == msg.message_id
        [case] = httpx.get(f"{srv.url}/api/cases").json()
        assert case["case_id"] == msg.case_id and case["state"] == "new"
        assert case["severity"] == msg.body["severity"] == "normal"
        assert case["message_count"] == 1 and case["kinds"] == ["new"]
        assert case["latest"] == msg.body
        for url in case["pictures"]:
            name = url.rsplit("/", 1)[1]
            picture = httpx.get(f"{srv.url}{url}")
            assert picture.headers["content-type"] == "image/jpeg"
            assert picture.content == msg.pictures[name]
        assert sorted(u.rsplit("/", 1)[1] for u in case["pictures"]) == sorted(msg.pictures)


def test_repeated_key_returns_original_result_and_stores_nothing_new(tmp_path):
    first = message(1, 0)
    with running_receiver(tmp_path / "r.db") as srv:
        original = post(srv.url, first)
        # Same key, different pictures: the platform must keep what it stored the first time.
        again = post(srv.url, type(first)(first.case_id, 0, "new", first.body, {"full.jpg": jpeg(99)}))
        assert again.status_code == original.status_code == 201
        assert again.json() == original.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        detail = httpx.get(f"{srv.url}/api/cases/{first.case_id}").json()
        assert len(detail["messages"]) == 1
        assert httpx.get(f"{srv.url}/api/cases/{first.case_id}/pictures/full.jpg").content == first.pictures["full.jpg"]
        assert httpx.get(f"{srv.url}/healthz").json()["messages"] == 1


def test_case_lists_messages_in_arrival_order_with_latest_state(tmp_path):
    with running_receiver(tmp_path / "r.db") as srv:
        for seq, kind in enumerate(["new", "update", "cleared"]):
            assert post(srv.url, message(5, seq, pictures=1, kind=kind)).status_code == 201
        post(srv.url, message(6, 0, pictures=0))
        cases = httpx.get(f"{srv.url}/api/cases").json()
        assert [c["case_id"] for c in cases] == ["cam1-0505-0005", "cam1-0505-0006"]
        assert cases[0]["state"] == "cleared" and cases[0]["kinds"] == ["new", "update", "cleared"]
        assert cases[1]["pictures"] == []
        detail = httpx.get(f"{srv.url}/api/cases/cam1-0505-0005").json()
        assert [m["seq"] for m in detail["messages"]] == [0, 1, 2]
        assert httpx.get(f"{srv.url}/api/cases?limit=1&offset=1").json()[0]["case_id"] == "cam1-0505-0006"
        assert httpx.get(f"{srv.url}/api/cases/nope").status_code == 404


def test_bad_requests_are_refused_with_a_reason(tmp_path):
    msg = message(2, 0)
    envelope = {"message_id": msg.message_id, "case_id": msg.case_id, "seq": 0, "kind": "new", "body": msg.body}
    url = None
    with running_receiver(tmp_path / "r.db") as srv:
        url = f"{srv.url}/api/cases"
        cases = [
            ({}, {"case": json.dumps(envelope)}, None, "Idempotency-Key"),
            ({IDEMPOTENCY_HEADER: msg.message_id}, {}, None, "'case'"),
            ({IDEMPOTENCY_HEADER: msg.message_id}, {"case": "{not json"}, None, "invalid"),
            (
                {IDEMPOTENCY_HEADER: msg.message_id},
                {"case": json.dumps({**envelope, "body": {**msg.body, "seq": 7}})},
                None,
                "body.seq",
            ),
            (
                {IDEMPOTENCY_HEADER: msg.message_id},
                {"case": json.dumps(envelope)},
                {"a": ("full.jpg", b"GIF89a", "image/jpeg")},
                "not a JPEG",
            ),
            (
                {IDEMPOTENCY_HEADER: msg.message_id},
                {"case": json.dumps(envelope)},
                {"a": ("../x.jpg", jpeg(1), "image/jpeg")},
                "picture name",
            ),
        ]
        for headers, data, files, reason in cases:
            answer = httpx.post(url, headers=headers, data=data, files=files)
            assert answer.status_code == 400, reason
            assert reason in answer.json()["detail"]
        assert httpx.get(f"{srv.url}/healthz").json()["messages"] == 0


@pytest.mark.parametrize("name", ["..%2F..%2Fr.db", "%2Fetc%2Fpasswd", ".hidden", "a..b.jpg"])
def test_picture_names_cannot_escape(tmp_path, name):
    with running_receiver(tmp_path / "r.db") as srv:
        post(srv.url, message(3, 0))
        answer = httpx.get(f"{srv.url}/api/cases/cam1-0505-0003/pictures/{name}")
        assert answer.status_code in (400, 404)
        assert b"SQLite" not in answer.content and b"root:" not in answer.content


def test_bearer_token_and_hmac_signature_are_enforced(tmp_path):
    secret = b"s3cret"
    with running_receiver(tmp_path / "r.db", token="tok", hmac_secret=secret) as srv:
        assert post(srv.url, message(1, 0), secret=secret).status_code == 401  # no token
        assert post(srv.url, message(1, 0), token="wrong", secret=secret).status_code == 401
        assert post(srv.url, message(1, 0), token="tok").status_code == 401  # no signature
        assert post(srv.url, message(1, 0), token="tok", secret=b"other").status_code == 401
        stale = post(srv.url, message(1, 0), token="tok", secret=secret, now=time.time() - 3600)
        assert stale.status_code == 401 and "off the receiver clock" in stale.json()["detail"]
        # A body altered after signing fails, even with a fresh timestamp and the right token.
        request = build_request(
            f"{srv.url}/api/cases", message(1, 0), {}, (), token="tok", hmac_secret=secret, now=time.time()
        )
        tampered = request.content.replace(b"0505", b"0506")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        assert httpx.post(request.url, content=tampered, headers=headers).status_code == 401
        assert httpx.get(f"{srv.url}/healthz").json()["messages"] == 0
        assert post(srv.url, message(1, 0), token="tok", secret=secret).status_code == 201
        stamp = int(time.time())
        assert sign(secret, stamp, b"x") != sign(secret, stamp, b"y")


def test_fault_switches_change_answers_live(tmp_path):
    with running_receiver(tmp_path / "r.db", faults=Faults(down=True, retry_after_s=7)) as srv:
        down = post(srv.url, message(1, 0))
        assert down.status_code == 503 and down.headers["Retry-After"] == "7"
        switches = {"reject_case_ids": ["cam1-0505-0002"], "reject_status": 422}
        assert httpx.put(f"{srv.url}/admin/faults", json=switches).status_code == 200
        assert post(srv.url, message(1, 0)).status_code == 201
        assert post(srv.url, message(2, 0)).status_code == 422
        # lose_ack: the platform stores the message but the answer is an error; the retry is a replay.
        httpx.put(f"{srv.url}/admin/faults", json={"fail_rate": 1.0, "fail_statuses": [502], "lose_ack": True})
        assert post(srv.url, message(3, 0)).status_code == 502
        httpx.put(f"{srv.url}/admin/faults", json={})
        retry = post(srv.url, message(3, 0))
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert httpx.get(f"{srv.url}/healthz").json()["messages"] == 2
        bad = httpx.put(f"{srv.url}/admin/faults", json={"fail_rate": 2})
        assert bad.status_code == 422
        assert httpx.get(f"{srv.url}/admin/faults").json()["fail_rate"] == 0.0


def test_schema_endpoint_serves_the_case_contract(tmp_path):
    with running_receiver(tmp_path / "r.db") as srv:
        answer = httpx.get(f"{srv.url}/api/schema")
    assert answer.status_code == 200 and answer.json() == json.loads(json.dumps(case_json_schema()))


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: (d / "file").write_text("x") and d / "file" / "r.db", "cannot be created"),
        (lambda d: (d / "r.db").write_bytes(b"not sqlite " * 100) and d / "r.db", "file is not a database"),
        (lambda d: Outbox(d / "outbox.db").close() or d / "outbox.db", "another program's 'messages' table"),
    ],
    ids=["parent-is-a-file", "garbage", "the-outbox-by-mistake"],
)
def test_unusable_database_is_a_clear_error_not_a_traceback(tmp_path, make, problem):
    db = make(tmp_path)
    proc = subprocess.run(
        [*EDGE, "receiver", "--port", "0", "--db", str(db)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 2, proc.stderr
    assert f"edge receiver: error: receiver database {db}" in proc.stderr and problem in proc.stderr
    assert "Traceback" not in proc.stderr
