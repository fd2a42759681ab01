"""What the scrape reads from the database: the outbox's depth and age, shadow skips, guardrail
states of active rollouts, and rollbacks by trigger."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from registry.models import ShadowJob
from rollouts.guardrails.evaluate import guardrails_ensure
from rollouts.models import Guardrail
from rollouts.services.rollouts import rollout_create, rollout_rollback, rollout_start_shadow
from tests.gates import pass_gate
from traffic.routing import invalidate_local
from traffic.tokens import token_create

from .conftest import value


@pytest.fixture
def rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollout_create(feature=feature, candidate=candidate, actor=None, shadow_daily_cap=3)
    pass_gate(rollout)
    rollout = rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    return rollout


@pytest.fixture
def ingest(feature):
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    invalidate_local()

    def send(*request_ids: str) -> None:
        records = [
            {
                "feature": feature.key,
                "request_id": rid,
                "messages": [{"role": "user", "content": "Where is my parcel?"}],
                "output": "On its way.",
            }
            for rid in request_ids
        ]
        response = Client().post(
            "/api/v1/ingest",
            {"records": records},
            content_type="application/json",
            headers={"Authorization": f"Bearer {plaintext}"},
        )
        assert response.status_code in (200, 201), response.content

    return send


def test_the_outbox_depth_and_age_and_the_shadow_skips_after_enqueueing(
    rollout, ingest, scrape, django_capture_on_commit_callbacks
):
    before = scrape()
    assert value(before, "rollout_desk_outbox_depth", status="queued") == 0
    assert value(before, "rollout_desk_outbox_oldest_age_seconds") == 0
    with django_capture_on_commit_callbacks(execute=True):
        ingest("a", "b", "c", "d", "e")  # the daily cap is 3: two are skipped
    assert ShadowJob.objects.filter(status="queued").count() == 3
    with time_machine.travel(timedelta(minutes=10)):
        after = scrape()
    assert value(after, "rollout_desk_outbox_depth", status="queued") == 3
    assert value(after, "rollout_desk_outbox_depth", status="claimed") == 0
    assert value(after, "rollout_desk_outbox_oldest_age_seconds") >= 600
    skipped = "rollout_desk_shadow_skipped_total"
    assert value(after, skipped, reason="cap") - value(before, skipped, reason="cap") == 2
    assert value(after, skipped, reason="sample") == value(before, skipped, reason="sample")


def test_guardrail_states_of_active_rollouts_and_rollbacks_by_trigger(
    rollout, scrape, django_capture_on_commit_callbacks
):
    guardrails_ensure(rollout)
    Guardrail.objects.filter(rollout=rollout, metric="error_rate").update(state="breach")
    during = scrape()
    state = "rollout_desk_guardrail_state"
    labels = {"feature": "support-reply", "metric": "error_rate", "severity": "critical"}
    assert value(during, state, state="breach", **labels) == 1
    assert value(during, state, state="ok", **labels) == 0
    shown = {dict(pairs)["metric"] for name, pairs in during if name == state}
    assert shown == set(Guardrail.objects.filter(rollout=rollout).values_list("metric", flat=True))

    manager = User.objects.create_user("rm")
    with django_capture_on_commit_callbacks(execute=True):  # counted once it commits
        rollout_rollback(rollout=rollout, actor=manager, reason="answers got worse")
    after = scrape()
    total = "rollout_desk_rollbacks_total"
    assert value(after, total, trigger="manual") - value(during, total, trigger="manual") == 1
    assert value(after, total, trigger="automatic") == value(during, total, trigger="automatic")
    # A rolled-back rollout's guardrails watch nothing any more.
    assert not [name for name, _ in after if name == state]
