"""The review benchmark's data generator writes pairs the product can read: it writes SQL
directly, so a new NOT NULL column on pairs broke it without a failing test once."""

import pytest
from django.core.management import call_command

from comparisons.models import ShadowPair

pytestmark = pytest.mark.postgres


def test_generated_pairs_are_complete_and_reviewable(shadow_rollout, client_for):
    call_command("generate_pairs", "--count", "50", "--labelled", "0.2")
    pairs = ShadowPair.objects.filter(rollout=shadow_rollout)
    assert pairs.count() == 50
    assert pairs.filter(group_key="").count() == 0
    assert pairs.values("group_key").distinct().count() == 50  # every pair reads differently
    reviewer = client_for("reviewer")
    assert reviewer.get("/review/").status_code == 200
    assert reviewer.get(f"/pairs/{pairs.first().code}/").status_code == 200
