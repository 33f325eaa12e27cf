"""Schemathesis over the API's own OpenAPI schema, in-process: no generated request gets a 5xx,
and every answer matches what the schema documents (status codes, content types, bodies).

One built-in check is left out: `positive_data_acceptance` expects every schema-valid body to be
accepted, but a JSON schema cannot say that a polygon must not cross itself, that an event code
must be in the worker's table or that a class must be one the loaded model knows; those bodies
rightly get a 422 with a message (tests/test_api.py checks each of them).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from test_api_support import AUTH, CAMERA, ENV, PipelineWorker

from edge.api import create_app
from edge.api.routes.zones import ID_PATTERN

PLAZA = f"/api/cameras/{CAMERA}/zones/plaza"
LIVE: dict[str, Any] = {}  # the app's client and the plaza zone as configured, for restoring it


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    worker = PipelineWorker(tmp_path_factory.mktemp("schema")).start()
    worker.step()  # a frame to serve
    app = create_app(worker, worker.zone_store, env=ENV)
    with TestClient(app, headers=AUTH) as client:
        LIVE.update(client=client, plaza=client.get(PLAZA).json()["zone"])
        yield schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    worker.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=10, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_match_the_schema(case):
    _reach_real_items(case.path_parameters or {})
    try:
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])
    finally:
        _restore_plaza()


def _reach_real_items(params: dict[str, object]) -> None:
    """Point generated (valid) ids at the real camera, and often at a real zone and rule, so that
    generated bodies get past 404 into validation, persistence and hot apply. Invalid ids are
    left alone: they are schemathesis' negative tests."""
    for key, real, share in (("camera_id", CAMERA, 1), ("zone_id", "plaza", 2), ("rule_id", "street-vendor", 2)):
        value = str(params.get(key, ""))
        if re.fullmatch(ID_PATTERN, value) and len(value) % share == 0:
            params[key] = real


def _restore_plaza() -> None:
    """Put the plaza zone back as configured when a generated request deleted or changed it."""
    client, plaza = LIVE["client"], LIVE["plaza"]
    current = client.get(PLAZA)
    if current.status_code == 404:
        assert client.post(PLAZA.rsplit("/", 1)[0], json=plaza).status_code == 201
    elif current.json()["zone"] != plaza:
        assert client.put(PLAZA, json=plaza).status_code == 200
