"""Guardrail notifications: Slack-compatible JSON to the feature's webhook.

The webhook URL carries a secret token, so a feature stores only the *name* of the environment
variable that holds it (`Feature.webhook_url_env`), like a provider's API key. The URL is read at
send time and never stored, logged, audited or shown: errors name the variable, never the URL.
The egress policy of providers (registry/egress.py) applies: no loopback, private or metadata
addresses unless the operator allow-listed the host in PROVIDER_ALLOWED_HOSTS.

A notification never blocks or undoes a rollback: it is sent after the rollback committed, with
a short timeout, and every failure is logged (without the URL) and counted in `FAILURES`.
"""

import logging
import os
from collections import Counter
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry.egress import allowed_from_settings, url_problem, webhook_env_problem
from registry.models import Feature, Rollout

logger = logging.getLogger("rollouts.guardrails.notify")

TIMEOUT_SECONDS = 3.0
# Process-wide counts of notifications that could not be sent, by cause (for /metrics-style
# reading and the tests); the cause never includes the URL.
FAILURES: Counter[str] = Counter()
# Tests (and an operator's proxy) may route the client elsewhere; None: the default transport.
TRANSPORT: httpx.BaseTransport | None = None


__all__ = ["clean_webhook_url_env", "notify_breach", "webhook_env_problem"]


def clean_webhook_url_env(feature: Feature) -> None:
    """For Feature.clean and forms: a ValidationError on `webhook_url_env` naming the fix."""
    problem = webhook_env_problem(feature.webhook_url_env)
    if problem:
        raise ValidationError({"webhook_url_env": problem})


def rollout_link(rollout: Rollout) -> str:
    """The rollout page, absolute when settings.SITE_URL says where the site is."""
    path = reverse("rollout_detail", args=[rollout.code])
    base = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return f"{base}{path}"


def breach_payload(*, rollout: Rollout, lines: list[str], rolled_back: bool) -> dict[str, Any]:
    """Slack-compatible message: `text` for clients without blocks, blocks with a link."""
    feature = rollout.feature
    link = rollout_link(rollout)
    if rolled_back:
        head = f"Rollout of {feature.key} rolled back automatically: a critical guardrail breached."
    else:
        head = f"Rollout of {feature.key}: an advisory guardrail breached (no rollback)."
    body = "\n".join(f"• {line}" for line in lines)
    return {
        "text": f"{head}\n{body}\n{link}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(head)}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _escape(body)}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the rollout"},
                        "url": link,
                    }
                ],
            },
        ],
    }


def _escape(text: str) -> str:
    # Slack's mrkdwn control characters; feature keys are slugs, but keep the rule in one place.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fail(cause: str, message: str, *args: Any) -> bool:
    FAILURES[cause] += 1
    logger.warning("guardrail notification not sent: " + message, *args)
    return False


def _post(url: str, payload: dict[str, Any]) -> httpx.Response:
    """One POST straight through a transport, not an httpx.Client: the client logs every
    request's full URL at INFO ("HTTP Request: POST https://hooks.../T0/B0/token"), and the
    URL is the secret. No redirects are followed (a transport never follows them)."""
    request = httpx.Request(
        "POST",
        url,
        json=payload,
        extensions={"timeout": httpx.Timeout(TIMEOUT_SECONDS).as_dict()},
    )
    transport = TRANSPORT or httpx.HTTPTransport()
    try:
        response = transport.handle_request(request)
        response.read()
        response.close()
        return response
    finally:
        if TRANSPORT is None:
            transport.close()


def notify_breach(*, rollout: Rollout, lines: list[str], rolled_back: bool) -> bool:
    """POST the breach to the feature's webhook. True when the webhook answered 2xx; False when
    none is configured or it failed (logged and counted, never raised)."""
    name = rollout.feature.webhook_url_env
    if not name:
        return False
    problem = webhook_env_problem(name)
    if problem:
        return _fail("variable", "feature %s: %s", rollout.feature.key, problem)
    url = os.environ.get(name, "").strip()
    if not url:
        return _fail("unset", "feature %s: %s is not set", rollout.feature.key, name)
    refused = url_problem(url, allowed=allowed_from_settings())
    if refused:
        # The problem text may contain the host; the URL's path and token are never logged.
        return _fail("egress", "feature %s: the URL in %s is refused", rollout.feature.key, name)
    payload = breach_payload(rollout=rollout, lines=lines, rolled_back=rolled_back)
    try:
        response = _post(url, payload)
    except httpx.HTTPError as exc:
        # str(exc) can carry the URL; only the class name is logged.
        return _fail("http", "feature %s: %s (%s)", rollout.feature.key, name, type(exc).__name__)
    if not response.is_success:
        return _fail(
            "status", "feature %s: %s answered %s", rollout.feature.key, name, response.status_code
        )
    return True
