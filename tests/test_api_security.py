"""API security: bearer token on every route but liveness, no token no API, body limit, no CORS."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from test_api_support import AUTH, CAMERA, ENV, TOKEN, TOP_RIGHT, PipelineWorker, zone

from edge.api import create_app
from edge.config import ConfigError
from edge.config.api import ApiConfig

PUBLIC = {"/healthz"}


@pytest.fixture
def worker(tmp_path):
    worker = PipelineWorker(tmp_path).start()
    yield worker
    worker.close()


def _routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every documented route, path parameters filled with real ids."""
    values = {"camera_id": CAMERA, "zone_id": "plaza", "rule_id": "street-vendor", "case_id": "c1"}
    values |= {"name": "01-full.jpg", "message_id": "c1:1", "suppression_id": "sup-0123456789abcdef"}
    out = [("GET", "/openapi.json")]
    for template, operations in app.openapi()["paths"].items():
        path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], template)
        out += [(method.upper(), path) for method in operations]
    return out


def test_every_route_but_liveness_refuses_a_missing_or_wrong_token(worker):
    app = create_app(worker, worker.zone_store, env=ENV)
    routes = _routes(app)
    assert len(routes) >= 20 and ("GET", "/openapi.json") in routes
    client = TestClient(app)
    guarded = [(method, path) for method, path in routes if path not in PUBLIC]
    for method, path in guarded:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert worker.zone_store.load().version == 1  # no refused request changed anything
    for method, path in guarded:
        if method == "GET":
            assert client.get(path, headers=AUTH).status_code != 401, path
    assert client.get("/healthz").json() == {"status": "ok"}


def test_liveness_can_require_the_token_too(worker):
    client = TestClient(create_app(worker, worker.zone_store, ApiConfig(public_liveness=False), env=ENV))
    assert client.get("/healthz").status_code == 401
    assert client.get("/healthz", headers=AUTH).status_code == 200


def test_the_editor_page_is_public_but_holds_no_data(worker):
    client = TestClient(create_app(worker, worker.zone_store, env=ENV))
    page = client.get("/editor/")
    assert page.status_code == 200 and "Zone editor" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/editor/editor.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/", follow_redirects=False).headers["location"] == "/editor/"
    assert client.get("/editor/../deps.py").status_code == 404


@pytest.mark.parametrize(
    ("env", "problem"),
    [({}, "set the environment variable EDGE_API_TOKEN"), ({"EDGE_API_TOKEN": "short"}, "too short")],
)
def test_without_a_usable_token_the_api_refuses_to_start(worker, env, problem):
    with pytest.raises(ConfigError, match=problem):
        create_app(worker, worker.zone_store, env=env)


def test_token_is_read_from_the_configured_variable(worker):
    app = create_app(worker, worker.zone_store, ApiConfig(token_env="CITY_EDGE_TOKEN"), env={"CITY_EDGE_TOKEN": TOKEN})
    assert TestClient(app).get("/api/cameras", headers=AUTH).status_code == 200


def test_oversized_bodies_are_refused_before_parsing(worker):
    client = TestClient(create_app(worker, worker.zone_store, ApiConfig(max_body_kb=4), env=ENV), headers=AUTH)
    big = zone("big", TOP_RIGHT) | {"name": "x" * 150}
    big["rules"] = [big["rules"][0] | {"id": f"r{i}", "event_name": "y" * 150} for i in range(30)]
    answer = client.post(f"/api/cameras/{CAMERA}/zones", json=big)
    assert answer.status_code == 413 and "limit of 4 KiB" in answer.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold for a streamed body too
        yield b'{"id": "big", "name": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    streamed = client.post(
        f"/api/cameras/{CAMERA}/zones", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert worker.zone_store.load().version == 1
    assert client.post(f"/api/cameras/{CAMERA}/zones", json=zone("small", TOP_RIGHT)).status_code == 201


def test_no_cors_headers_for_other_origins(worker):
    client = TestClient(create_app(worker, worker.zone_store, env=ENV))
    origin = {"Origin": "https://evil.example"}
    preflight = client.options(
        f"/api/cameras/{CAMERA}/zones",
        headers=origin | {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code in (401, 405)
    answer = client.get("/api/cameras", headers=origin | AUTH)
    assert answer.status_code == 200
    for response in (preflight, answer):
        assert not any(h.lower().startswith("access-control-") for h in response.headers)
    assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["Cache-Control"] == "no-store"
