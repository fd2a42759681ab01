"""Completion at 100% and the one-click revert while the previous config is pinned."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.errors import DomainError
from registry.models import Feature
from registry.services.serving import served_at
from rollouts.models import Stage
from rollouts.services import rollouts
from rollouts.services.completion import feature_revert_to_previous, rollout_complete
from rollouts.services.stages import active_stage
from tests.gates import pass_gate
from tests.stages import serve_candidate


@pytest.fixture
def at_full(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    return serve_candidate(rollout, 100)


def test_completion_waits_for_the_last_stage_minimum(at_full, release):
    stage = active_stage(at_full)
    Stage.objects.filter(pk=stage.pk).update(min_duration=timedelta(hours=4))
    with pytest.raises(DomainError, match=r"insufficient evidence: (4 h|3 h 59 min)"):
        rollout_complete(rollout=at_full, actor=release, note="done")
    with pytest.raises(ValidationError):
        rollout_complete(rollout=at_full, actor=release, note="")


def test_completion_makes_the_candidate_the_served_config(at_full, release, feature, settings):
    baseline, candidate = at_full.baseline, at_full.candidate
    rollout_complete(rollout=at_full, actor=release, note="two weeks clean")
    at_full.refresh_from_db()
    assert (at_full.status, at_full.candidate_bp) == ("completed", 0)
    feature = Feature.objects.get(pk=feature.pk)
    assert feature.served_config == candidate and feature.previous_config == baseline
    pinned_for = feature.pinned_until - timezone.now()
    assert timedelta(days=settings.ROLLBACK_PIN_DAYS - 1) < pinned_for
    assert pinned_for <= timedelta(days=settings.ROLLBACK_PIN_DAYS)
    assert set(Stage.objects.filter(rollout=at_full).values_list("status", flat=True)) == {"done"}
    now = feature.serving_changes.order_by("-id").first().effective
    shares = [(s.config.name, s.percent) for s in served_at(feature=feature, when=now).shares]
    assert shares == [("support v2", 100.0)]
    # One click back while pinned: the baseline serves again, and the revert can be undone.
    feature_revert_to_previous(feature=feature, actor=release, reason="tone complaints")
    feature.refresh_from_db()
    assert feature.served_config == baseline and feature.previous_config == candidate
    back = feature.serving_changes.order_by("-id").first().effective
    shares = [(s.config.name, s.percent) for s in served_at(feature=feature, when=back).shares]
    assert shares == [("support v1", 100.0)]
    # "What served at T" still answers the completed period with the candidate.
    assert [s.config.name for s in served_at(feature=feature, when=now).shares] == ["support v2"]


def test_no_revert_once_the_pin_ended(at_full, release, feature):
    rollout_complete(rollout=at_full, actor=release, note="done")
    Feature.objects.filter(pk=feature.pk).update(pinned_until=timezone.now() - timedelta(days=1))
    feature.refresh_from_db()
    with pytest.raises(DomainError, match="pin ended"):
        feature_revert_to_previous(feature=feature, actor=release, reason="late")


def test_complete_and_revert_from_the_rollout_page(at_full, client_for, feature):
    client = client_for("release")
    page = client.get(f"/rollouts/{at_full.code}/").content.decode()
    assert "Complete: make the candidate the served config" in page
    client.post(f"/rollouts/{at_full.code}/complete/", {"note": "ready"})
    page = client.get(f"/rollouts/{at_full.code}/").content.decode()
    assert "Revert to the previous config" in page
    client.post(f"/rollouts/{at_full.code}/revert/", {"reason": "complaints"})
    feature.refresh_from_db()
    assert feature.served_config == at_full.baseline
    refused = client_for("reviewer").post(f"/rollouts/{at_full.code}/revert/", {"reason": "x"})
    assert refused.status_code == 403
