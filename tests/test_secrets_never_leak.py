"""Secrets never leave their place. After a run through the gateway, ingest, a shadow job, a
provider that echoes the API key back in its errors (real ones do: "Incorrect API key provided:
sk-..."), the pages, the admin, the API and an error page, neither the provider key nor an API
token's plaintext appears in any log record, any stored row (audit diffs, request logs, pairs,
dead letters, jobs), any task message or any page."""

import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from celery.signals import before_task_publish
from django.apps import apps
from django.test import Client

from comparisons.services.shadow import shadow_job_run
from registry.models import ModelConfig, ModelVersion, Provider, ShadowJob
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import pass_gate
from traffic.gateway.recorder import recorder
from traffic.routing import invalidate_local
from traffic.tokens import token_create

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-canary-" + secrets.token_hex(16)
KEY_ENV = "ROLLOUT_TEST_PROVIDER_KEY"  # allowed by tests/_env.py


class _Leaky(BaseHTTPRequestHandler):
    """An OpenAI-compatible provider whose errors quote the Authorization header it got."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization", "")
        if body["model"] == "leaky-auth-2025-01-01":
            status, answer = 401, {"error": {"message": f"Incorrect API key provided: {auth}"}}
        elif body["model"] == "leaky-5xx-2025-01-01":
            status, answer = 500, {"error": {"message": f"upstream failed for {auth[7:]}"}}
        else:
            status = 200
            answer = {
                "id": "c1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Your parcel ships Monday."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # the test's own server: nothing to log
        pass


@pytest.fixture
def leaky_provider():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Leaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(f"{record.name}: {text}")


@pytest.fixture
def logs():
    """Every record of every logger, at every level (not only what propagates to the root)."""
    handler = _Everything()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.texts
    for logger in loggers:
        logger.removeHandler(handler)
    logging.getLogger().setLevel(old_level)


@pytest.fixture
def task_messages():
    sent: list[str] = []

    def capture(body=None, headers=None, **_kwargs) -> None:
        sent.append(repr(body) + repr(headers))

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


def _config(provider: Provider, model_id: str) -> ModelConfig:
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id), actor=None
    )
    return registry.config_create(
        config=ModelConfig(name=model_id, model_version=version), actor=None
    )


def _stored_text() -> str:
    """Every row of every table the product owns (and Django's), as text."""
    return "\n".join(repr(list(model.objects.values())) for model in apps.get_models())


def test_no_key_or_token_appears_anywhere_after_a_run(
    live, leaky_provider, logs, task_messages, monkeypatch, cast
):
    monkeypatch.setenv(KEY_ENV, KEY)
    provider = registry.provider_save(
        provider=Provider(
            name="Leaky", api_style="openai_chat", base_url=leaky_provider, api_key_env=KEY_ENV
        ),
        actor=None,
    )
    good = _config(provider, "good-2025-01-01")
    feature = registry.feature_create(key="support", name="S", served_config=good, actor=None)
    broken = registry.feature_create(
        key="broken", name="B", served_config=_config(provider, "leaky-auth-2025-01-01"), actor=None
    )
    rollout = rollouts.rollout_create(
        feature=feature, candidate=_config(provider, "leaky-5xx-2025-01-01"), actor=None
    )
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    _, token = token_create(name="app", features=[feature, broken], actor=None)
    invalidate_local()

    pages: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live.url, headers=auth, timeout=10) as http:
        for model in ("support", "broken"):
            answer = http.post(
                "/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            )
            pages.append(answer.text + repr(answer.headers))
        assert answer.status_code >= 400  # the broken feature's key was refused
        ingest = http.post(
            "/api/v1/ingest",
            json={
                "feature": "support",
                "request_id": "r-ingest-1",
                "messages": [{"role": "user", "content": "hello"}],
                "output": "hi there",
            },
        )
        assert ingest.status_code < 300, ingest.text
        pages.append(ingest.text)
        for url in ("/api/v1/health", "/api/v1/features/support/served", "/api/v1/nope"):
            pages.append(http.get(url).text)
    recorder.flush()
    for job in ShadowJob.objects.filter(rollout=rollout):
        shadow_job_run(job_id=job.pk)
    assert rollout.pairs.exists()  # the candidate's 500 (quoting the key) was stored as a pair

    admin = Client()
    admin.force_login(cast["admin"])
    for url in (
        "/",
        f"/features/{feature.key}/",
        f"/rollouts/{rollout.code}/",
        "/pairs/",
        *(f"/pairs/{code}/" for code in rollout.pairs.values_list("code", flat=True)),
        "/audit/",
        "/audit/?format=csv",
        "/admin/rollouts/provider/",
        f"/admin/rollouts/provider/{provider.pk}/change/",
        "/admin/rollouts/apitoken/",
        "/admin/rollouts/deadletter/",
        "/admin/rollouts/modelversion/",
        "/admin/rollouts/auditevent/",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        pages.append(body.decode())
    # A page asked for with the token in its query string (a client's mistake) and an error page.
    pages.append(admin.get(f"/pairs/?token={token}").content.decode())
    pages.append(Client().get(f"/api/v1/rollouts/{rollout.code}", headers=auth).content.decode())

    places = {
        "logs": "\n".join(logs),
        "stored rows": _stored_text(),
        "task messages": "\n".join(task_messages),
        "pages and answers": "\n".join(pages),
    }
    secret_part = token.rsplit("_", 1)[1]
    for where, text in places.items():
        assert KEY not in text, f"the provider key appears in {where}"
        assert KEY[10:] not in text, f"part of the provider key appears in {where}"
        assert secret_part not in text, f"an API token appears in {where}"
    assert places["logs"], "nothing was logged: the capture is not working"
