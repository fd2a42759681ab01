"""Guardrail webhooks: Slack-compatible JSON, the variable-name rule, and a URL that never leaks."""

import json
import logging

import httpx
import pytest
from django.core.exceptions import ValidationError

from registry.models import AuditEvent, Rollout
from rollouts.guardrails import notify
from rollouts.guardrails.evaluate import guardrails_evaluate
from rollouts.guardrails.notify import clean_webhook_url_env, notify_breach, webhook_env_problem
from rollouts.models import Guardrail, GuardrailCheck
from tests.rollouts.test_guardrails import SECRET_URL, minute, start_canary

TOKEN = "sekrit-webhook-token"


@pytest.fixture
def canary(feature, make_config, make_version, settings, monkeypatch) -> Rollout:
    settings.PROVIDER_ALLOWED_HOSTS = ["hooks.test"]
    monkeypatch.setenv("SUPPORT_WEBHOOK_URL", SECRET_URL)
    feature.webhook_url_env = "SUPPORT_WEBHOOK_URL"
    feature.save(update_fields=["webhook_url_env"])
    return start_canary(feature, make_config("support v2", make_version("gpt-4o-2024-11-20")))


def serve(monkeypatch, handler) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    monkeypatch.setattr(notify, "TRANSPORT", httpx.MockTransport(answer))
    return seen


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", None),
        ("SUPPORT_WEBHOOK_URL", None),
        ("support_webhook_url", "name of an environment variable"),
        ("https://hooks.slack.com/services/x", "name of an environment variable"),
        ("DATABASE_URL", "Rollout Desk's own settings"),
        ("SECRET_KEY", "Rollout Desk's own settings"),
        ("CELERY_WEBHOOK_URL", "Rollout Desk's own settings"),
        ("SLACK_HOOK", "ending in _WEBHOOK_URL"),
    ],
)
def test_webhook_variable_names_follow_the_key_rule(name, fragment):
    problem = webhook_env_problem(name, allowlist=[])
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


def test_an_allow_listed_name_passes_but_never_a_product_secret(settings):
    settings.WEBHOOK_URL_ENV_ALLOWLIST = ["SLACK_HOOK", "DATABASE_URL"]
    assert webhook_env_problem("SLACK_HOOK") is None
    assert "own settings" in (webhook_env_problem("DATABASE_URL") or "")


def test_the_clean_check_names_the_field(feature):
    feature.webhook_url_env = "not a name"
    with pytest.raises(ValidationError) as caught:
        clean_webhook_url_env(feature)
    assert "webhook_url_env" in caught.value.message_dict


def test_the_message_is_slack_compatible_with_a_link(canary, monkeypatch, settings):
    settings.SITE_URL = "https://desk.example.com"
    seen = serve(monkeypatch, lambda r: httpx.Response(200))
    assert notify_breach(rollout=canary, lines=["Error rate breached: …"], rolled_back=True)
    body = json.loads(seen[0].content)
    assert seen[0].headers["content-type"] == "application/json"
    assert body["text"].startswith("Rollout of support-reply rolled back automatically")
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "actions"]
    button = body["blocks"][2]["elements"][0]
    assert button["url"] == f"https://desk.example.com/rollouts/{canary.code}/"


@pytest.mark.parametrize(
    "failure",
    ["unset", "status", "http", "egress"],
)
def test_failures_are_logged_and_counted_without_the_url(canary, monkeypatch, caplog, failure):
    if failure == "unset":
        monkeypatch.delenv("SUPPORT_WEBHOOK_URL")
        serve(monkeypatch, lambda r: httpx.Response(200))
    elif failure == "status":
        serve(monkeypatch, lambda r: httpx.Response(500, text=SECRET_URL))
    elif failure == "http":

        def refuse(request):
            raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

        serve(monkeypatch, refuse)
    else:
        monkeypatch.setenv("SUPPORT_WEBHOOK_URL", "http://127.0.0.1:9/hook/" + TOKEN)
        serve(monkeypatch, lambda r: httpx.Response(200))
    before = notify.FAILURES[failure]
    with caplog.at_level(logging.DEBUG):
        assert notify_breach(rollout=canary, lines=["x"], rolled_back=True) is False
    assert notify.FAILURES[failure] == before + 1
    assert "SUPPORT_WEBHOOK_URL" in caplog.text or failure == "egress"
    assert TOKEN not in caplog.text and "hooks.test" not in caplog.text


def test_a_failing_webhook_never_blocks_the_rollback_and_the_url_is_kept_nowhere(
    canary, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def refuse(request):
        raise httpx.ConnectTimeout(f"timed out on {request.url}", request=request)

    seen = serve(monkeypatch, refuse)
    minute(canary, "baseline", requests=3000, errors=30)
    minute(canary, "candidate", requests=3000, errors=120)
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.ROLLED_BACK
    assert len(seen) == 1
    stored = json.dumps(
        [
            list(AuditEvent.objects.values("reason", "before", "after", "object_repr")),
            list(GuardrailCheck.objects.values("evidence")),
            list(Guardrail.objects.values("last_evidence")),
        ],
        default=str,
    )
    for secret in (TOKEN, SECRET_URL, "hooks.test"):
        assert secret not in stored
        assert secret not in caplog.text


def test_it_posts_over_real_http_to_an_allowed_local_stub(canary, monkeypatch, settings, caplog):
    """The real transport (no MockTransport) against a stub server on this machine."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    bodies: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
        url = f"http://127.0.0.1:{server.server_port}/services/{TOKEN}"
        monkeypatch.setenv("SUPPORT_WEBHOOK_URL", url)
        with caplog.at_level(logging.DEBUG):
            assert notify_breach(rollout=canary, lines=["Error rate breached"], rolled_back=False)
    finally:
        server.shutdown()
        server.server_close()
    assert "advisory guardrail breached" in bodies[0]["text"]
    assert TOKEN not in caplog.text
