"""Replay: logged requests run again on BOTH configs with the stored (redacted) input; pairs
are scored and queued; progress counts; a repeated message never duplicates a pair."""

import json
from datetime import timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError

from comparisons.batches import ReplayRun
from comparisons.models import ShadowPair
from comparisons.services.offline import offline_comparison_create
from comparisons.services.replay import ReplayFilters, replay_start, replay_step
from registry.models import Feedback, RequestLog
from registry.services.audit import db_now
from traffic.ingest import ingest
from traffic.routing import current_table, invalidate_local


@pytest.fixture
def offline(feature, make_config, make_version, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config(
        "support v2", make_version("gpt-4o-2024-08-06"), system_prompt="Candidate for {customer}."
    )
    invalidate_local()
    return offline_comparison_create(
        feature=feature,
        baseline=feature.served_config,
        candidate=candidate,
        actor=None,
        name="replay test",
    )


def _log(request_id: str, text: str) -> RequestLog:
    ingest(
        {
            "feature": "support-reply",
            "request_id": request_id,
            "unit": "u1",
            "messages": [{"role": "user", "content": text}],
            "variables": {"customer": "Acme"},
            "output": "logged answer",
            "latency_ms": 100,
        },
        table=current_table(),
        token=None,
    )
    return RequestLog.objects.get(request_id=request_id)


def _answer(text: str) -> httpx.Response:
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


def _filters(**kw) -> ReplayFilters:
    now = db_now()
    return ReplayFilters(since=now - timedelta(hours=1), until=now + timedelta(hours=1), **kw)


def _run_all(run: ReplayRun, transport) -> None:
    for _ in range(100):
        if not replay_step(run_id=run.pk, transport=transport, chunk=2):
            return
    raise AssertionError("the replay never finished")


def test_a_replay_runs_both_configs_on_the_stored_input_and_pairs_enter_review(offline):
    for n in range(3):
        _log(f"r{n}", f"Question {n}: write to me at jane{n}@example.com")
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        seen.append(body)
        return _answer(f"answer of {body['model']}")

    run = replay_start(rollout=offline, filters=_filters(sample=10), actor=None)
    assert (run.total, run.status) == (3, "queued")
    _run_all(run, httpx.MockTransport(handler))
    run.refresh_from_db()
    assert (run.status, run.cursor, run.done, run.failed, run.skipped) == ("done", 3, 3, 0, 0)
    assert run.percent == 100
    models = sorted(body["model"] for body in seen)
    assert models == ["gpt-4o-2024-05-13"] * 3 + ["gpt-4o-2024-08-06"] * 3
    for body in seen:
        user = next(m for m in body["messages"] if m["role"] == "user")["content"]
        assert "[email]" in user and "example.com" not in user  # the stored, redacted input
    assert any(m["content"] == "Candidate for Acme." for b in seen for m in b["messages"])
    pairs = ShadowPair.objects.filter(rollout=offline)
    assert pairs.count() == 3
    pair = pairs.first()
    assert pair.baseline_output == "answer of gpt-4o-2024-05-13"  # re-run now, not the logged one
    assert pair.candidate_output == "answer of gpt-4o-2024-08-06"
    assert pair.metrics and pair.queued and pair.request is not None


def test_a_repeated_message_does_not_duplicate_pairs_or_counts(offline):
    for n in range(3):
        _log(f"r{n}", f"Question {n}")
    transport = httpx.MockTransport(lambda r: _answer("same"))
    run = replay_start(rollout=offline, filters=_filters(sample=3), actor=None)
    _run_all(run, transport)
    # A message redelivered from the start (say, a worker lost before its ack).
    ReplayRun.objects.filter(pk=run.pk).update(status="running", cursor=0, done=0, skipped=0)
    _run_all(run, transport)
    run.refresh_from_db()
    assert ShadowPair.objects.count() == 3
    assert (run.cursor, run.done, run.skipped) == (3, 0, 3)
    # A new replay leaves out what is paired already, so there is nothing left to pick.
    with pytest.raises(ValidationError):
        replay_start(rollout=offline, filters=_filters(sample=3), actor=None)


def test_filters_pick_requests_with_negative_feedback(offline):
    logs = [_log(f"r{n}", f"Question {n}") for n in range(4)]
    Feedback.objects.create(request=logs[1], kind="thumbs", value=-1)
    Feedback.objects.create(request=logs[2], kind="score", value=5)
    run = replay_start(rollout=offline, filters=_filters(sample=10, only_negative=True), actor=None)
    assert run.request_ids == [logs[1].pk]


def test_a_failed_call_is_stored_flagged_and_counted(offline):
    _log("r1", "Question")
    run = replay_start(rollout=offline, filters=_filters(sample=1), actor=None)

    def handler(request: httpx.Request) -> httpx.Response:
        if b"gpt-4o-2024-08-06" in request.read():  # only the candidate fails
            return httpx.Response(400, json={"error": "bad"})
        return _answer("fine")

    _run_all(run, httpx.MockTransport(handler))
    run.refresh_from_db()
    assert (run.done, run.failed) == (1, 1)
    pair = ShadowPair.objects.get()
    assert pair.candidate_error and pair.flagged


def test_the_progress_page_polls_until_done(client_for, offline):
    _log("r1", "Question")
    run = replay_start(rollout=offline, filters=_filters(sample=1), actor=None)
    client = client_for("release")
    fragment = client.get(f"/replays/{run.code}/", headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert 'hx-trigger="every 2s"' in text and "0 of 1" in text and "<html" not in text
    _run_all(run, httpx.MockTransport(lambda r: _answer("ok")))
    page = client.get(f"/replays/{run.code}/").content.decode()  # no JS: same numbers on reload
    assert "1 of 1" in page and "every 2s" not in page
    assert "redacted" in client.get(f"/rollouts/{offline.code}/replay/").content.decode()
    assert client_for("reviewer").get(f"/replays/{run.code}/").status_code == 403


def test_a_release_manager_starts_a_replay_from_the_page(client_for, offline):
    _log("r1", "Question")
    now = db_now()
    response = client_for("release").post(
        f"/rollouts/{offline.code}/replay/",
        {
            "since": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
            "until": (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
            "sample": 5,
        },
    )
    run = ReplayRun.objects.get()
    assert response.status_code == 302 and str(run.code) in response["Location"]
    assert run.total == 1
