"""Who may scrape: the right bearer token from anywhere, or a direct connection from an
allowed network (loopback by default); everyone else gets a JSON refusal, never the figures."""

import hashlib
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

TOKEN = "metrics-scraper-secret-0123456789"


@pytest.fixture
def configured(settings):
    settings.METRICS_TOKEN_SHA256 = hashlib.sha256(TOKEN.encode()).hexdigest()
    return settings


def _get(remote: str = "10.20.30.40", **headers: str):
    return Client(REMOTE_ADDR=remote).get("/metrics", headers=headers)


def _refused(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"code", "message"}
    assert b"rollout_desk_" not in response.content
    assert TOKEN.encode() not in response.content
    return body


def test_from_another_network_without_a_token_it_is_refused(configured, db):
    body = _refused(_get(), 403)
    assert body["code"] == "forbidden" and "METRICS_TOKEN" in body["message"]


def test_a_wrong_token_is_refused_even_from_loopback(configured, db):
    _refused(_get(Authorization="Bearer not-the-token"), 401)
    response = _get("127.0.0.1", Authorization="Bearer " + TOKEN[:-1])
    _refused(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    _refused(_get(Authorization=f"Basic {TOKEN}"), 401)


def test_the_right_token_is_served_from_anywhere(configured, db):
    response = _get(Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"rollout_desk_database_up 1.0" in response.content
    assert TOKEN.encode() not in response.content


def test_without_a_configured_token_no_token_is_right(settings, db):
    settings.METRICS_TOKEN_SHA256 = ""
    _refused(_get(Authorization="Bearer "), 401)
    _refused(_get(Authorization="Bearer anything"), 401)


def test_loopback_needs_no_token_unless_a_proxy_forwarded_the_request(configured, db):
    assert _get("127.0.0.1").status_code == 200
    assert _get("::1").status_code == 200
    # A reverse proxy on the same machine connects from loopback for everyone on the internet.
    _refused(_get("127.0.0.1", X_Forwarded_For="203.0.113.9"), 403)
    _refused(_get("127.0.0.1", Forwarded="for=203.0.113.9"), 403)


def test_the_allowed_networks_are_configurable(configured, db):
    configured.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert _get("10.20.30.40").status_code == 200
    _refused(_get("127.0.0.1"), 403)
    configured.METRICS_ALLOWED_NETWORKS = []
    _refused(_get("10.20.30.40"), 403)
    assert _get("10.20.30.40", Authorization=f"Bearer {TOKEN}").status_code == 200


def test_only_get_and_head(db):
    response = Client().post("/metrics")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def _start_up(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("METRICS_", "PROMETHEUS_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=settings.BASE_DIR,
        env=clean | {"DJANGO_SETTINGS_MODULE": "rollout_site.settings", "DEBUG": "true"} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_settings_keep_only_the_tokens_hash_and_refuse_a_bad_network():
    check = (
        "from django.conf import settings as s; "
        "values = [repr(getattr(s, name)) for name in dir(s) if name.isupper()]; "
        f"print(any({TOKEN!r} in v for v in values), s.METRICS_TOKEN_SHA256, "
        "s.METRICS_ALLOWED_NETWORKS)"
    )
    started = _start_up({"METRICS_TOKEN": TOKEN, "METRICS_ALLOWED_NETWORKS": ""}, check)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["False", hashlib.sha256(TOKEN.encode()).hexdigest(), "[]"]
    refused = _start_up({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,intranet"}, "")
    assert refused.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS names 'intranet'" in refused.stderr
