"""The rollout page during a canary says the same thing as the rest of the product: the
candidate's real differences from the baseline, the stage counted as the live split counts it,
and guardrails already watching."""

import pytest

from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.stages import serve_candidate


@pytest.fixture
def canary(shadow_rollout):
    return serve_candidate(shadow_rollout, 1)


def test_the_differences_card_names_the_candidates_model(client_for, canary):
    page = client_for("viewer").get(f"/rollouts/{canary.code}/").content.decode()
    card = page[page.index('id="differences"') :]
    card = card[: card.index("</section>")]
    assert canary.candidate.model_version.model_id in card
    assert "unchanged" not in card.split("Parameters")[0]  # the model line says what changed


def test_the_stepper_counts_canary_stages_like_the_live_split(client_for, canary):
    page = client_for("viewer").get(f"/rollouts/{canary.code}/").content.decode()
    assert "Now: stage 1 of 6" in page
    home = client_for("viewer").get("/").content.decode()
    assert "stage 1 of 6" in home


def test_the_stepper_in_shadow_says_shadow(client_for, feature, candidate):
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    page = client_for("viewer").get(f"/rollouts/{rollout.code}/").content.decode()
    assert "Now: shadow, before the 6 canary stages" in page


def test_guardrails_watch_from_the_first_promotion(canary):
    metrics = set(canary.guardrails.values_list("metric", flat=True))
    assert {"error_rate", "latency_p95", "refusal_rate"} <= metrics
