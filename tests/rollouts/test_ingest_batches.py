"""Large batches take the bulk path (COPY on PostgreSQL): rows must come out exactly as the
one-by-one path stores them, with their ids, shadow jobs and duplicates handled."""

from registry.models import RequestLog, ShadowJob
from rollouts.services import rollouts
from tests.gates import pass_gate
from traffic.ingest import ingest
from traffic.routing import current_table, invalidate_local

FIELDS = [
    "unit_key",
    "source",
    "config_id",
    "variant",
    "rollout_id",
    "messages",
    "variables",
    "output",
    "finish_reason",
    "tool_calls",
    "error_kind",
    "error",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
]


def _record(n: int, prefix: str) -> dict:
    return {
        "feature": "support-reply",
        "request_id": f"{prefix}-{n}",
        "unit": f"u{n}",
        "messages": [{"role": "user", "content": f"Mail me at x{n}@example.com, {{ok}} ✓"}],
        "variables": {"customer": "Acme", "n": n},
        "output": f"Answer {n}\ttab\nline",
        "latency_ms": 10.5 + n,
        "prompt_tokens": n,
        "completion_tokens": 2 * n,
        "error": "" if n % 2 else "upstream hiccup \\ backslash",
    }


def test_a_big_batch_stores_what_single_records_store(feature, make_config):
    candidate = make_config("v2")
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    table = current_table()
    batch = ingest({"records": [_record(n, "batch") for n in range(60)]}, table=table, token=None)
    singles = [ingest(_record(n, "single"), table=table, token=None)[0] for n in range(60)]
    assert [o.duplicate for o in batch] == [False] * 60
    by_id = {r.pk: r for r in RequestLog.objects.all()}
    for got, one in zip(batch, singles, strict=True):
        a, b = by_id[got.id], by_id[one.id]
        assert a.request_id == got.request_id
        assert {f: getattr(a, f) for f in FIELDS} == {f: getattr(b, f) for f in FIELDS}
        assert a.created is not None and "[email]" in a.messages[0]["content"]
    assert ShadowJob.objects.filter(request__request_id__startswith="batch-").count() == 60
    again = ingest({"records": [_record(n, "batch") for n in range(60)]}, table=table, token=None)
    assert [o.id for o in again] == [o.id for o in batch]
    assert all(o.duplicate for o in again)
    assert RequestLog.objects.count() == 120


def _one(config=None, model=None, request_id="r1") -> dict:
    record = {
        "feature": "support-reply",
        "request_id": request_id,
        "unit": "u1",
        "messages": [{"role": "user", "content": "hi"}],
        "output": "hello",
    }
    if config:
        record["config"] = config
    if model:
        record["model_version"] = model
    return record


def test_the_config_that_served_is_checked_against_the_feature(feature, make_config):
    import pytest

    from registry.services import registry
    from traffic.ingest import IngestError

    old = feature.served_config
    registry.feature_switch_config(
        feature=feature, config=make_config("v2"), actor=None, reason="upgrade"
    )
    other = registry.feature_create(
        key="other", name="o", served_config=make_config("o"), actor=None
    )
    invalidate_local()
    table = current_table()
    # The served config in capitals is still the served config.
    served = feature.__class__.objects.get(pk=feature.pk).served_config
    stored = ingest(_one(config=str(served.code).upper()), table=table, token=None)[0]
    assert RequestLog.objects.get(pk=stored.id).config_id == served.pk
    # A config this feature served before: stored as what it is, never shadowed.
    older = ingest(_one(config=str(old.code), request_id="r2"), table=table, token=None)[0]
    assert RequestLog.objects.get(pk=older.id).config_id == old.pk
    # Another feature's config, or a model that contradicts the config, is refused.
    with pytest.raises(IngestError) as info:
        ingest(_one(config=str(other.served_config.code), request_id="r3"), table=table, token=None)
    assert info.value.status == 422 and info.value.errors[0]["field"] == "config"
    with pytest.raises(IngestError) as info:
        ingest(
            _one(config=str(served.code), model="gpt-4-0613", request_id="r4"),
            table=table,
            token=None,
        )
    assert info.value.status == 422 and info.value.errors[0]["field"] == "model_version"
