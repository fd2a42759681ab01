import itertools

import pytest

from comparisons.models import ShadowPair
from comparisons.services.scoring import score_pair
from rollouts.models import RequestLog
from rollouts.services import rollouts
from rollouts.services.audit import db_now

_ids = itertools.count(1)


@pytest.fixture
def shadow_rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    return rollouts.rollout_start_shadow(rollout=rollout, actor=None)


@pytest.fixture
def make_pair(shadow_rollout):
    def make(
        baseline="The parcel ships on Monday.",
        candidate="The parcel ships on Monday.",
        *,
        labels_wanted=1,
        user_text="Where is my parcel?",
        candidate_error="",
    ) -> ShadowPair:
        n = next(_ids)
        log = RequestLog.objects.create(
            feature=shadow_rollout.feature,
            request_id=f"req-{n}",
            source="ingest",
            config=shadow_rollout.baseline,
            variant="baseline",
            rollout=shadow_rollout,
            messages=[{"role": "user", "content": user_text}],
            output=baseline,
            started=db_now(),
        )
        pair = ShadowPair(
            rollout=shadow_rollout,
            request=log,
            request_key=log.request_id,
            messages=log.messages,
            baseline_config=shadow_rollout.baseline,
            candidate_config=shadow_rollout.candidate,
            served_variant="baseline",
            baseline_output=baseline,
            candidate_output=candidate,
            candidate_error=candidate_error,
            baseline_latency_ms=100,
            candidate_latency_ms=120,
        )
        score_pair(pair, similarity_below=0.5, review_sample_bp=10_000, double_review_bp=0)
        pair.labels_wanted = labels_wanted
        pair.save()
        return pair

    return make
