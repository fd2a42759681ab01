"""What serves now (rollouts/services/live.py): the split text through shadow, every canary
stage and completion, and the pages that show it."""

from datetime import timedelta

import pytest

from registry.models import Rollout
from registry.services.audit import db_now
from rollouts.models import Stage
from rollouts.services import rollouts
from rollouts.services.completion import rollout_complete
from rollouts.services.live import live_split, live_splits
from rollouts.services.promotion import rollout_pause, rollout_promote
from tests.gates import pass_gate

BASE = "gpt-4o-2024-05-13"
CAND = "gpt-4o-2024-11-20"


@pytest.fixture
def candidate(make_config, make_version):
    return make_config("support v2", make_version(CAND))


@pytest.fixture
def shadow(feature, candidate):
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    return rollouts.rollout_start_shadow(rollout=rollout, actor=None)


def _promote(rollout: Rollout, admin) -> Rollout:
    # An admin's override skips the stage minimums: the test is about the split, not the wait.
    rollout_promote(rollout=rollout, actor=admin, note="go", override_reason="test of the split")
    rollout.refresh_from_db()
    return rollout


def test_without_a_rollout_the_served_config_takes_everything(feature):
    split = live_split(feature)
    assert split.text == f"100% {BASE}"
    assert not split.candidate_serves and split.rollout is None


def test_a_draft_names_the_candidate_as_not_served(feature, candidate):
    rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    assert live_split(feature).text == f"100% {BASE} · {CAND} in draft (0% served)"


def test_shadow_serves_the_baseline_only(shadow):
    split = live_split(shadow.feature)
    assert split.text == f"100% {BASE} · {CAND} in shadow (0% served)"
    assert not split.candidate_serves


def test_each_canary_stage_shows_its_share_and_number(shadow, admin_user):
    expected = [
        (f"99% {BASE} · 1% {CAND}, stage 1 of 6"),
        (f"95% {BASE} · 5% {CAND}, stage 2 of 6"),
        (f"90% {BASE} · 10% {CAND}, stage 3 of 6"),
        (f"75% {BASE} · 25% {CAND}, stage 4 of 6"),
        (f"50% {BASE} · 50% {CAND}, stage 5 of 6"),
        (f"100% {CAND}, stage 6 of 6"),
    ]
    rollout = shadow
    for text in expected:
        rollout = _promote(rollout, admin_user)
        split = live_split(rollout.feature)
        assert split.text == text
        assert split.candidate_serves
    # The larger share comes first, with its config name for the pages.
    assert [a.config_name for a in split.arms] == ["support v2"]


def test_a_paused_canary_says_so(shadow, admin_user):
    rollout = _promote(shadow, admin_user)
    rollout_pause(rollout=rollout, actor=admin_user, reason="night")
    assert live_split(rollout.feature).text.endswith("stage 1 of 6, paused")


def test_after_completion_the_candidate_serves_alone(shadow, admin_user):
    rollout = shadow
    for _ in range(6):
        rollout = _promote(rollout, admin_user)
    # The last stage ran its minimums: a day ago, and no sample asked for.
    Stage.objects.filter(rollout=rollout, status="active").update(
        started=db_now() - timedelta(days=1), min_samples=0
    )
    rollout_complete(rollout=rollout, actor=admin_user, note="all green")
    feature = rollout.feature
    feature.refresh_from_db()
    split = live_split(feature)
    assert split.text == f"100% {CAND}"
    assert split.rollout is None


def test_after_a_rollback_the_baseline_serves_alone(shadow, admin_user):
    rollout = _promote(_promote(shadow, admin_user), admin_user)
    rollouts.rollout_rollback(rollout=rollout, actor=admin_user, reason="errors")
    assert live_split(rollout.feature).text == f"100% {BASE}"


def test_splits_of_many_features_cost_a_fixed_number_of_queries(
    shadow, make_config, django_assert_max_num_queries
):
    from registry.selectors import features_with_configs
    from registry.services import registry

    for n in range(5):
        registry.feature_create(
            key=f"f{n}", name="f", served_config=make_config(f"c{n}"), actor=None
        )
    features = list(features_with_configs())
    with django_assert_max_num_queries(2):
        splits = live_splits(features)
    assert len(splits) == 6 and splits["support-reply"].phase == "shadow"


@pytest.mark.parametrize("url", ["/", "/features/", "/features/support-reply/"])
def test_the_pages_never_name_the_baseline_alone_while_the_candidate_serves(
    shadow, admin_user, client_for, url
):
    _promote(_promote(shadow, admin_user), admin_user)
    html = client_for("viewer").get(url).content.decode()
    assert "<strong>5%</strong> <code>gpt-4o-2024-11-20</code>" in html
    assert "<strong>95%</strong> <code>gpt-4o-2024-05-13</code>" in html
    assert "stage 2 of 6" in html
