"""The dashboard reads a fixed number of queries whatever the number of active rollouts: each
stage's samples, shadow pairs and inconclusive guardrails are read for all rollouts at once."""

from datetime import timedelta

from django.utils import timezone

from comparisons.models import ShadowPair
from registry.models import RequestLog, Rollout
from registry.services import registry
from rollouts.models import Stage
from rollouts.services import rollouts
from rollouts.services.stages import active_stage, stage_evidence, stage_evidence_many
from tests.gates import pass_gate
from tests.stages import serve_candidate
from traffic.metrics.upsert import MinuteRow, upsert_minutes

# What the page needs today with any number of rollouts (18), and a little room; a query per
# rollout would pass it at once with 8 of them.
CEILING = 22


def _active(make_config, make_version, first: int, count: int) -> list[Rollout]:
    """`count` features, each with a rollout: even ones in shadow with pairs, odd ones at a 1%
    canary, all with a plan, roll-ups in the running stage and a stage still short of time."""
    made = []
    for n in range(first, first + count):
        served = make_config(f"f{n} v1", make_version("gpt-4o-2024-05-13"))
        feature = registry.feature_create(
            key=f"feature-{n}", name=f"Feature {n}", served_config=served, actor=None
        )
        candidate = make_config(f"f{n} v2", make_version("gpt-4o-2024-11-20"))
        rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
        pass_gate(rollout)
        rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=None)
        if n % 2:
            rollout = serve_candidate(rollout, 1)
        else:
            _pairs(rollout, 3)
        Stage.objects.filter(rollout=rollout, status="active").update(
            started=timezone.now() - timedelta(hours=1), min_duration=timedelta(hours=4)
        )
        at = (timezone.now() - timedelta(minutes=20)).replace(second=0, microsecond=0)
        upsert_minutes(
            [
                MinuteRow(rollout_id=rollout.pk, variant=variant, minute=at, requests=40 + n)
                for variant in ("baseline", "candidate")
            ]
        )
        made.append(rollout)
    return made


def _pairs(rollout: Rollout, n: int) -> None:
    for i in range(n):
        log = RequestLog.objects.create(
            feature=rollout.feature, request_id=f"{rollout.pk}-{i}", source="ingest",
            config=rollout.baseline, variant="baseline", rollout=rollout, messages=[],
            output="a", started=timezone.now(),
        )  # fmt: skip
        ShadowPair.objects.create(
            rollout=rollout, request=log, request_key=log.request_id, messages=[],
            baseline_config=rollout.baseline, candidate_config=rollout.candidate,
            served_variant="baseline", baseline_output="a", candidate_output="b",
        )  # fmt: skip


def _count(client, assert_max) -> int:
    with assert_max(CEILING) as captured:
        page = client.get("/")
    assert page.status_code == 200
    return len(captured.captured_queries)


def test_the_dashboard_runs_as_many_queries_for_8_rollouts_as_for_2(
    client_for, make_config, make_version, django_assert_max_num_queries
):
    client = client_for("release")
    _active(make_config, make_version, 1, 2)
    client.get("/")  # the session and the user, as on every later page
    two = _count(client, django_assert_max_num_queries)
    _active(make_config, make_version, 3, 6)
    eight = _count(client, django_assert_max_num_queries)
    assert two == eight
    page = client.get("/").content.decode()
    assert page.count("left of the stage") == 8  # every rollout is still listed


def test_batched_stage_evidence_counts_as_the_rollout_page_does(make_config, make_version):
    made = _active(make_config, make_version, 1, 4)
    now = timezone.now()
    stages = [(r, active_stage(r)) for r in made]
    many = stage_evidence_many(stages, now=now)
    for rollout, stage in stages:
        one = stage_evidence(rollout, stage, now=now)
        assert (many[rollout.pk].samples, many[rollout.pk].elapsed) == (one.samples, one.elapsed)
    shadow, canary = made[1], made[0]
    assert many[shadow.pk].samples == {"baseline": 42, "candidate": 3}  # pairs, in shadow
    assert many[canary.pk].samples == {"baseline": 41, "candidate": 41}
