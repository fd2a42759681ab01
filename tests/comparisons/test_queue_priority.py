# ruff: noqa: RUF001 - curly quotes are what these texts are about
"""The queue's priority order, and what the shadow runner keeps on the pair for the flags."""

import httpx
import pytest
from django.db import IntegrityError

from comparisons.services import review
from comparisons.services.shadow import shadow_job_run
from registry.models import Feature, ShadowJob
from tests.comparisons.test_shadow import _ingest, shadowing  # noqa: F401 - fixture


@pytest.fixture
def reviewer(cast):
    return cast["reviewer"]


LONG = (
    "Your parcel left our warehouse on Monday morning and is now with the courier. Deliveries "
    "in your area usually take two to three working days, so it should reach you by Thursday."
)
REWORDED = (
    "The parcel went out from our warehouse on Monday and the courier has it now. In your "
    "area delivery normally takes two or three working days: expect it by Thursday."
)


def test_the_riskiest_pair_comes_first_not_the_oldest_flagged(make_pair, reviewer):
    similar = make_pair(LONG, LONG.replace("Thursday", "Friday"))
    rewritten = make_pair(LONG, REWORDED)
    reformatted = make_pair(LONG, "## Delivery\n\n**Left Monday**, arrives **Thursday**.\n" + LONG)
    refused = make_pair(LONG, "I’m sorry, but I can’t help with that.")
    assert not similar.flagged and not rewritten.flagged  # a rewrite is no flag on its own
    assert reformatted.flags == ["format_changed"]
    assert "refusal:candidate" in refused.flags
    order = []
    for _ in range(4):
        pair = review.next_pair_for(reviewer, skip=tuple(p.pk for p in order))
        order.append(pair)
    assert order == [refused, reformatted, rewritten, similar]


def _answer(text: str, *, finish_reason: str, tool_calls: list | None = None) -> httpx.Response:
    message: dict = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        },
    )


def test_a_truncated_candidate_is_flagged_from_its_finish_reason(shadowing):  # noqa: F811
    job = _ingest("r-cut", output="Your parcel ships on Monday and arrives by Thursday.")
    pair = shadow_job_run(
        job_id=job.pk,
        transport=httpx.MockTransport(
            lambda r: _answer("Your parcel ships on Monday and", finish_reason="length")
        ),
    )
    assert pair.candidate_finish_reason == "length"
    assert "truncated:candidate" in pair.flags and pair.flagged
    assert pair.priority > 0


def test_the_baseline_tool_calls_are_kept_on_the_pair_and_compared(shadowing):  # noqa: F811
    job = _ingest("r-tool", output="Your parcel ships on Monday.")
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup_order", "arguments": '{"order_id": "58213"}'},
    }
    pair = shadow_job_run(
        job_id=job.pk,
        transport=httpx.MockTransport(
            lambda r: _answer("", finish_reason="tool_calls", tool_calls=[call])
        ),
    )
    pair.refresh_from_db()
    assert pair.baseline_tool_calls == [] and pair.candidate_tool_calls[0]["function"]["name"]
    assert "tool_calls_changed" in pair.flags
    assert ShadowJob.objects.get(pk=job.pk).status == "done"


def test_length_ratio_bounds_are_checked_in_the_database(feature):
    with pytest.raises(IntegrityError):
        Feature.objects.filter(pk=feature.pk).update(flag_length_ratio_min=1.5)


def test_a_feature_s_length_bounds_decide_the_flag(make_pair, shadow_rollout):
    assert "length_ratio" not in make_pair(LONG, LONG + " " + LONG[:60]).flags
    Feature.objects.filter(pk=shadow_rollout.feature_id).update(flag_length_ratio_max=1.2)
    shadow_rollout.feature.refresh_from_db()
    assert "length_ratio" in make_pair(LONG, LONG + " " + LONG[:60]).flags
