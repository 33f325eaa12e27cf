"""Patrol settings: the revisit interval derived from the rules, and the errors an operator can fix."""

from __future__ import annotations

import pytest
from test_cases_support import make_config, rule

from edge.config import ConfigError
from edge.config.patrol import revisit_s
from edge.ingest.snapshot import snapshot_auth


def test_revisit_is_a_third_of_the_shortest_duration_or_clear_time():
    rules = [
        rule(id="parked", min_duration_s=180, clear_after_s=120),
        rule(id="stall", min_duration_s=600, clear_after_s=300),
    ]
    config = make_config(rules, analysis={"mode": "patrol"})
    assert revisit_s(config.cameras[0]) == 40.0  # clear_after_s 120 of the parked rule bounds it
    assert config.cameras[0].analysis.mode == "patrol"
    assert make_config([rule()]).cameras[0].analysis.mode == "continuous"  # the default


def test_a_revisit_that_cannot_confirm_a_rule_in_time_names_the_rule():
    rules = [rule(id="parked", min_duration_s=180), rule(id="quick-stop", min_duration_s=30, clear_after_s=60)]
    with pytest.raises(ConfigError, match="revisit_s 60 cannot confirm zone 'z1' rule 'quick-stop'"):
        make_config(rules, analysis={"mode": "patrol", "revisit_s": 60})


@pytest.mark.parametrize(
    ("source", "analysis", "problem"),
    [
        ({"url": "http://cam/snap.jpg", "kind": "snapshot"}, {}, "set analysis.mode to patrol"),
        ({"url": "rtsp://cam/live", "kind": "snapshot"}, {"mode": "patrol"}, "snapshot source is an http"),
        ({"url": "http://cam/snap.jpg", "kind": "snapshot", "auth": "digest"}, {"mode": "patrol"}, "password_env"),
        ({"url": "http://cam/s.jpg", "password_env": "not a name"}, {"mode": "patrol"}, "password_env"),
    ],
)
def test_bad_snapshot_settings_are_config_errors(source, analysis, problem):
    with pytest.raises(ConfigError, match=problem):
        make_config([rule()], source=source, analysis=analysis)


def test_a_snapshot_password_comes_from_the_environment(monkeypatch):
    source = {
        "url": "http://cam/s.jpg",
        "kind": "snapshot",
        "auth": "basic",
        "username": "ops",
        "password_env": "CAM_PW",
    }
    camera = make_config([rule()], source=source, analysis={"mode": "patrol"}).cameras[0]
    monkeypatch.delenv("CAM_PW", raising=False)
    with pytest.raises(ConfigError, match="'CAM_PW', which is not set"):
        snapshot_auth(camera)
    monkeypatch.setenv("CAM_PW", "s3cret")
    assert snapshot_auth(camera) is not None
