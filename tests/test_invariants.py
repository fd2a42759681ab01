"""The fault tests' checker (tests/invariants.py) must be able to fail: each invariant it
asserts is broken here on purpose and named in its message."""

import pytest

from registry.models import RequestLog, ShadowJob
from registry.services.audit import db_now
from tests.invariants import check_invariants, seeded
from traffic.outbox import plan_shadow_jobs


def _logged(rollout, request_id: str) -> RequestLog:
    log = RequestLog.objects.create(
        feature=rollout.feature,
        request_id=request_id,
        source="ingest",
        config=rollout.baseline,
        variant="baseline",
        rollout=rollout,
        shadow_config=rollout.candidate,
        messages=[{"role": "user", "content": "hi"}],
        raw_messages=[{"role": "user", "content": "hi"}],
        output="hello",
        started=db_now(),
    )
    plan_shadow_jobs([log], today=db_now().date())
    return log


def test_a_clean_state_passes_and_returns_the_counts(shadow_rollout):
    counts = check_invariants(rollout=shadow_rollout, acknowledged_request_ids=[], label="clean")
    assert counts["jobs"] == 0 and counts["acknowledged_missing"] == 0


def test_it_names_every_broken_invariant(shadow_rollout, make_pair):
    _logged(shadow_rollout, "open-job")  # queued, never run
    done = _logged(shadow_rollout, "lost-pair")
    ShadowJob.objects.filter(request=done).update(status="done")  # done, but no pair
    failed = _logged(shadow_rollout, "failed-silently")
    ShadowJob.objects.filter(request=failed).update(status="failed", error="")
    with pytest.raises(AssertionError) as caught:
        check_invariants(
            rollout=shadow_rollout, acknowledged_request_ids=["open-job", "never-stored"]
        )
    message = str(caught.value)
    assert "1 shadow job(s) not in a terminal state" in message
    assert "1 done shadow job(s) without a pair" in message
    assert "1 failed shadow job(s) without a reason" in message
    assert "1 of 2 acknowledged request id(s) not stored" in message and "never-stored" in message


def test_the_seed_is_printed_and_replays_the_schedule(capsys):
    rng = seeded(42)
    assert "chaos seed: 42" in capsys.readouterr().err
    replay = seeded(42)
    assert [rng.random() for _ in range(3)] == [replay.random() for _ in range(3)]
