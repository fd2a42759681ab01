"""Shadow jobs: claim, run, store the pair; the sweep; retention; redaction of what is stored."""

from datetime import timedelta

import httpx
import pytest

from comparisons.models import ShadowPair
from comparisons.services.retention import purge_expired
from comparisons.services.shadow import shadow_job_run, shadow_sweep
from registry.models import Feature, RequestLog, ShadowJob
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts
from tests.gates import pass_gate
from traffic.ingest import ingest
from traffic.redaction import redactor_for
from traffic.routing import current_table, invalidate_local


def _openai_answer(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        },
    )


@pytest.fixture
def shadowing(feature, make_config, make_version, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config(
        "support v2",
        make_version("gpt-4o-2024-11-20"),
        system_prompt="Candidate prompt for {customer}.",
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    return rollout


def _ingest(request_id: str, content: str = "Where is my parcel?", output: str = "On its way."):
    ingest(
        {
            "feature": "support-reply",
            "request_id": request_id,
            "unit": "u1",
            "messages": [
                {"role": "system", "content": "old prompt"},
                {"role": "user", "content": content},
            ],
            "variables": {"customer": "Acme"},
            "output": output,
            "latency_ms": 120,
        },
        table=current_table(),
        token=None,
    )
    return ShadowJob.objects.get(request__request_id=request_id)


def test_a_job_runs_the_candidate_with_its_own_prompt_and_stores_the_pair(shadowing):
    job = _ingest("r1")
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = request.read()
        return _openai_answer("Candidate says hi")

    pair = shadow_job_run(job_id=job.pk, transport=httpx.MockTransport(handler))
    assert b"Candidate prompt for Acme." in seen["body"]
    assert b"old prompt" not in seen["body"]  # the app's system prompt is the config's to set
    assert b"gpt-4o-2024-11-20" in seen["body"]
    assert (pair.baseline_output, pair.candidate_output) == ("On its way.", "Candidate says hi")
    assert pair.baseline_latency_ms == 120 and pair.candidate_tokens == 4
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 1


def test_a_redelivered_job_makes_no_second_call_or_pair(shadowing):
    job = _ingest("r1")
    calls = []

    def handler(request):
        calls.append(1)
        return _openai_answer("x")

    transport = httpx.MockTransport(handler)
    assert shadow_job_run(job_id=job.pk, transport=transport) is not None
    assert shadow_job_run(job_id=job.pk, transport=transport) is None
    assert len(calls) == 1 and ShadowPair.objects.count() == 1


def test_a_candidate_error_is_recorded_on_the_pair(shadowing):
    job = _ingest("r1")
    pair = shadow_job_run(
        job_id=job.pk,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": {"message": "context too long"}})
        ),
    )
    assert pair.candidate_output == ""
    assert pair.candidate_error.startswith("client_error") and "context too long" in (
        pair.candidate_error
    )


def test_the_sweep_requeues_lost_work_and_gives_up_eventually(shadowing, settings):
    settings.SHADOW_REDISPATCH_SECONDS = 1
    job = _ingest("r1")
    old = db_now() - timedelta(hours=2)
    ShadowJob.objects.filter(pk=job.pk).update(created=old)
    assert shadow_sweep() == [job.pk]  # queued long ago: its nudge was lost
    assert shadow_sweep() == []  # re-nudged just now: not again at once
    # A worker claimed it and vanished.
    ShadowJob.objects.filter(pk=job.pk).update(status="claimed", claimed_at=old, renudged=old)
    assert shadow_sweep() == [job.pk]
    assert ShadowJob.objects.get(pk=job.pk).status == "queued"
    ShadowJob.objects.filter(pk=job.pk).update(status="claimed", claimed_at=old, attempts=5)
    shadow_sweep()
    assert ShadowJob.objects.get(pk=job.pk).status == "failed"


def test_retention_purges_old_logs_and_their_pairs(shadowing, settings):
    settings.REQUEST_LOG_RETENTION_DAYS = 30
    job = _ingest("old")
    shadow_job_run(job_id=job.pk, transport=httpx.MockTransport(lambda r: _openai_answer("x")))
    _ingest("new")
    long_ago = db_now() - timedelta(days=31)
    RequestLog.objects.filter(request_id="old").update(created=long_ago)
    ShadowPair.objects.update(created=long_ago)
    assert purge_expired() == {"request_logs": 1, "pairs": 1, "staged_imports": 0}
    assert list(RequestLog.objects.values_list("request_id", flat=True)) == ["new"]


def test_retention_keeps_pairs_that_carry_labels(shadowing, settings, cast):
    from comparisons.services import review

    settings.REQUEST_LOG_RETENTION_DAYS = 30
    # Two different answers: identical pairs share one label (comparisons/grouping.py).
    for request_id in ("kept", "gone"):
        job = _ingest(request_id)
        answer = _openai_answer(f"answer for {request_id}")
        shadow_job_run(job_id=job.pk, transport=httpx.MockTransport(lambda r, a=answer: a))
    kept = ShadowPair.objects.get(request_key="kept")
    review.label_save(pair=kept, reviewer=cast["reviewer"], data=review.LabelInput("same"))
    long_ago = db_now() - timedelta(days=31)
    RequestLog.objects.update(created=long_ago)
    ShadowPair.objects.update(created=long_ago)
    assert purge_expired() == {"request_logs": 2, "pairs": 1, "staged_imports": 0}
    assert list(ShadowPair.objects.values_list("request_key", flat=True)) == ["kept"]


def test_what_is_stored_is_redacted(shadowing):
    Feature.objects.filter(key="support-reply").update(redact_custom=[r"ACME-\d+"])
    invalidate_local()
    job = _ingest(
        "r1",
        content="I'm jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958, "
        "order ACME-12345",
        output="Mail sent to jane.doe@example.com",
    )
    log = job.request
    text = log.messages[1]["content"]
    assert "example.com" not in text and "[email]" in text
    assert "4111" not in text and "[card]" in text
    assert "7946" not in text and "[phone]" in text
    assert "ACME-12345" not in text and "[redacted]" in text
    assert log.output == "Mail sent to [email]"
    pair = shadow_job_run(
        job_id=job.pk,
        transport=httpx.MockTransport(lambda r: _openai_answer("Contact bob@example.org")),
    )
    assert pair.candidate_output == "Contact [email]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at a.b+c@d.co.uk", "mail me at [email]"),
        ("card 5500-0000-0000-0004 ok", "card [card] ok"),
        ("call (415) 555-2671", "call [phone]"),
        # No number has area code 555: the old pattern redacted any 10 digits; phones are now
        # checked for validity (issue 7, section 2).
        ("call 555-123-4567", "call 555-123-4567"),
        ("order 42 of 2026", "order 42 of 2026"),  # short numbers are not phones
        ("in 1994.\n\n6. Next", "in 1994.\n\n6. Next"),  # a year before a numbered list
    ],
)
def test_the_builtin_redaction_patterns(text, expected):
    assert redactor_for(emails=True, phones=True, cards=True, custom=[]).text(text) == expected


def test_a_bad_custom_pattern_is_refused_naming_the_field(feature):
    feature.redact_custom = ["(unclosed"]
    with pytest.raises(Exception) as info:
        registry.feature_update_details(feature=feature, actor=None)
    assert "redact_custom" in str(info.value)


def test_nudges_go_out_in_batches_that_a_worker_fans_out(monkeypatch):
    from types import SimpleNamespace

    from comparisons import tasks
    from tests.live import wait_for
    from traffic import outbox

    sent = []
    kinds = {tasks.run_shadow_job.name: "one", tasks.fan_out_shadow_jobs.name: "many"}

    def send_task(name, args, **kw):
        sent.append((kinds[name], args))

    monkeypatch.setattr(outbox, "current_app", SimpleNamespace(send_task=send_task))
    outbox.nudge([7])
    assert wait_for(lambda: sent == [("one", (7,))], timeout=5)
    sent.clear()
    outbox.nudge(list(range(1200)))
    assert wait_for(lambda: sum(len(args[0]) for _, args in sent) == 1200, timeout=5)
    assert all(kind == "many" and len(args[0]) <= outbox.FAN_OUT for kind, args in sent)
    fanned = []
    monkeypatch.setattr(tasks.run_shadow_job, "apply_async", lambda args, **kw: fanned.append(args))
    tasks.fan_out_shadow_jobs([1, 2, 3])
    assert fanned == [(1,), (2,), (3,)]
