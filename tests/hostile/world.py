"""The objects the hostile-input tests aim at: a feature with a token, a shadow rollout, a
logged request, an eval suite, and a signed-in release manager; plus the checks every refusal
must pass (the JSON error shape, no stack trace, no secret, nothing half-written)."""

import json
from dataclasses import dataclass

from django.test import Client

from comparisons.models import ShadowPair
from evaluations.models import Gate
from registry.models import AuditEvent, Feature, Feedback, RequestLog, Rollout
from tests.gates import make_suite
from traffic.tokens import token_create

KNOWN_REQUEST = "req-known-1"
CSRF = "k" * 32  # the release manager's CSRF secret, cookie and header alike


@dataclass
class World:
    feature: Feature
    rollout: Rollout
    token: str
    candidate: str  # a config code a gate may be started for
    release: Client  # a signed-in release manager

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def build_world(*, feature, rollout, release_user, make_config) -> World:
    _token, plaintext = token_create(name="hostile", features=[feature], actor=None)
    RequestLog.objects.create(
        feature=feature,
        request_id=KNOWN_REQUEST,
        source="ingest",
        config=feature.served_config,
        variant="baseline",
        messages=[{"role": "user", "content": "Hi"}],
        output="Hello",
        started=rollout.created,
    )
    make_suite(feature, cases=[("greets", "format", True), ("answers", "accuracy", False)])
    candidate = make_config("gate candidate", system_prompt="You answer {customer} briefly.")
    # CSRF enforced, as for a real browser: the API's session path runs Django's CSRF check.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(release_user)
    browser.cookies["csrftoken"] = CSRF
    return World(
        feature=feature,
        rollout=rollout,
        token=plaintext,
        candidate=str(candidate.code),
        release=browser,
    )


def counts() -> dict[str, int]:
    """Rows any API write could leave behind: compared before and after a refusal."""
    return {
        "request logs": RequestLog.objects.count(),
        "feedback": Feedback.objects.count(),
        "pairs": ShadowPair.objects.count(),
        "gates": Gate.objects.count(),
        "audit events": AuditEvent.objects.count(),
        "active rollouts": Rollout.objects.filter(status__in=Rollout.ACTIVE).count(),
    }


def assert_refusal(response, status: int, *, field: str | None = None, secrets=()) -> dict:
    """A refusal as the API promises it: the status, JSON `{code, message, field?}` with a
    message a person can act on, no stack trace, no secret."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and len(body["message"]) > 10, body
    if field is not None:
        fields = [body.get("field")] + [e.get("field") for e in body.get("errors", [])]
        assert field in fields, (field, body)
    text = response.content.decode()
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    for secret in secrets:
        assert secret not in text
    return body
