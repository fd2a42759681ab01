"""Per-minute roll-ups (traffic/metrics): what the gateway's write-behind and ingest store is
counted in its request's minute, once, and read back as series, totals and percentiles."""

import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from registry.models import DeadLetter, MetricMinute, ModelConfig, RequestLog
from registry.models.metrics import LATENCY_BUCKETS_MS
from rollouts.services import rollouts
from tests.gates import pass_gate
from traffic import metrics
from traffic.gateway.recorder import GatewayRecord, Recorder
from traffic.ingest import ingest
from traffic.metrics import arm_totals, percentile_from_hist, rollout_series
from traffic.metrics.rollup import latency_bucket
from traffic.providers import CallResult, ErrorKind
from traffic.routing import current_table, invalidate_local
from traffic.tokens import token_create

REFUSAL = "I'm sorry, but I can't help with that."


@pytest.fixture
def rollout(feature, make_config, make_version):
    """support-reply in shadow: baseline at $2/$8 per 1M tokens, a JSON-answering candidate."""
    base = feature.served_config.model_version
    base.input_price, base.output_price = Decimal("2"), Decimal("8")
    base.save()
    candidate = make_config(
        "support v2",
        make_version("gpt-4o-2024-08-06"),
        response_format=ModelConfig.ResponseFormat.JSON_OBJECT,
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    return rollout


def _record(n: int, **fields) -> dict:
    record = {
        "feature": "support-reply",
        "request_id": f"r-{n}",
        "unit": f"u{n}",
        "messages": [{"role": "user", "content": "Where is my parcel?"}],
        "output": "It ships Monday.",
        "latency_ms": 120.0,
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "started_at": "2026-03-02T10:15:30Z",
    }
    # None: the application did not send the field.
    return {k: v for k, v in (record | fields).items() if v is not None}


def _ingest(*records: dict) -> None:
    ingest({"records": list(records)}, table=current_table(), token=None)


def _minute(rollout, variant: str, at: str = "2026-03-02T10:15:00Z") -> MetricMinute:
    return MetricMinute.objects.get(rollout=rollout, variant=variant, minute=at)


def _bucket_of(ms: float) -> int:
    return next((i for i, b in enumerate(LATENCY_BUCKETS_MS) if ms <= b), len(LATENCY_BUCKETS_MS))


def test_ingested_calls_roll_up_into_their_minute_with_errors_latency_and_cost(rollout):
    _ingest(
        _record(1, latency_ms=80.0),
        _record(2, latency_ms=2500.0, output=REFUSAL),
        _record(3, error="boom", output="", latency_ms=None),
        _record(4, error="late", error_kind="timeout", output="", latency_ms=61000.0),
        _record(5, started_at="2026-03-02T10:16:05Z"),
    )
    m = _minute(rollout, "baseline")
    assert (m.requests, m.errors) == (4, 2)
    assert m.errors_by_kind == {"app_error": 1, "timeout": 1}
    assert m.refusals == 1
    assert len(m.latency_hist) == len(LATENCY_BUCKETS_MS) + 1
    assert m.latency_hist[_bucket_of(80)] == 1
    assert m.latency_hist[_bucket_of(2500)] == 1
    assert m.latency_hist[-1] == 1  # 61 s: past the last bound
    assert sum(m.latency_hist) == 3  # the call without a latency is not in the histogram
    assert m.latency_sum_ms == pytest.approx(80 + 2500 + 61000)
    assert (m.prompt_tokens, m.completion_tokens) == (4000, 2000)
    # 4 calls x (1000 x $2 + 500 x $8) / 1M = $0.024
    assert m.cost == Decimal("0.024")
    assert m.json_checked == 0  # the baseline answers text
    assert _minute(rollout, "baseline", "2026-03-02T10:16:00Z").requests == 1


def test_json_validity_is_checked_for_a_config_that_asks_for_json(rollout):
    code = str(rollout.candidate.code)
    _ingest(
        _record(1, config=code, output='{"answer": "Monday"}'),
        _record(2, config=code, output='```json\n{"answer": 1}\n```'),
        _record(3, config=code, output=""),
        _record(4, config=code, output="", error_kind="timeout", error="slow"),
    )
    m = _minute(rollout, "candidate")
    assert (m.requests, m.json_checked, m.json_invalid) == (4, 3, 2)
    assert m.cost == 0  # the candidate's model version has no prices: unknown, not counted


def test_late_data_lands_in_the_minute_it_started(rollout):
    _ingest(_record(1))
    _ingest(_record(2, started_at="2026-03-01T23:59:59.900Z"))
    assert _minute(rollout, "baseline").requests == 1
    assert _minute(rollout, "baseline", "2026-03-01T23:59:00Z").requests == 1


def test_a_retried_batch_and_a_duplicate_request_id_count_once(rollout):
    batch = [_record(1), _record(2), _record(2)]  # r-2 twice in one batch: one call
    _ingest(*batch)
    _ingest(*batch)  # the client retries the whole batch
    assert _minute(rollout, "baseline").requests == 2
    assert RequestLog.objects.count() == 2


def test_calls_outside_a_rollout_are_not_counted(feature):
    invalidate_local()
    _ingest(_record(1))
    assert RequestLog.objects.count() == 1
    assert not MetricMinute.objects.exists()


def test_a_failing_rollup_never_blocks_the_request_logs(rollout, monkeypatch, caplog):
    def broken(rows):
        raise ValueError("a bug in the roll-up")

    monkeypatch.setattr(metrics.rollup, "upsert_minutes", broken)
    with caplog.at_level(logging.ERROR, logger="traffic.metrics"):
        _ingest(_record(1))
    assert RequestLog.objects.count() == 1
    assert not MetricMinute.objects.exists()
    assert "roll-ups of 1 requests not recorded" in caplog.text


# --- the gateway's write-behind ------------------------------------------------------------------


def _result(output: str = "It ships Monday.", **changes: Any) -> CallResult:
    fields: dict[str, Any] = dict(
        output=output,
        finish_reason="stop",
        prompt_tokens=10,
        completion_tokens=20,
        latency_ms=420.0,
        error_kind=ErrorKind.NONE,
        error="",
        status_code=200,
        attempts=1,
        tool_calls=[],
        body=None,
    )
    return CallResult(**(fields | changes))


def _gateway(
    request_id: str, *, started: float, result: CallResult | None = None, **changes: Any
) -> GatewayRecord:
    route = current_table().routes["support-reply"]
    fields: dict[str, Any] = dict(
        route=route,
        variant="baseline",
        config_id=route.baseline.id,
        request_id=request_id,
        unit_key="u",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        variables={},
        params={},
        result=result or _result(),
        started=started,
        body_digest="",
    )
    return GatewayRecord(**(fields | changes))


@pytest.fixture
def writer():
    recorder = Recorder()
    recorder._start = lambda: None  # type: ignore[method-assign]  # no thread: the test flushes
    return recorder


def test_gateway_batches_roll_up_and_dead_letters_are_not_counted(rollout, writer):
    started = datetime(2026, 3, 2, 10, 15, 10, tzinfo=UTC).timestamp()
    route = current_table().routes["support-reply"]
    assert route.candidate is not None
    writer.add(_gateway("g-1", started=started))
    writer.add(_gateway("g-2", started=started + 1, result=_result(REFUSAL, latency_ms=30.0)))
    writer.add(
        _gateway(
            "g-3",
            started=started + 2,
            result=_result("", error_kind=ErrorKind.RATE_LIMITED, error="429"),
        )
    )
    writer.add(
        _gateway(
            "g-4",
            started=started + 3,
            variant="candidate",
            config_id=route.candidate.id,
            result=_result('{"ok": true}'),
        )
    )
    # The same id with another body: the first row is kept, the second dead-lettered.
    writer.add(_gateway("g-5", started=started, body_digest="a" * 64))
    writer.add(_gateway("g-5", started=started, body_digest="b" * 64, result=_result("other")))
    writer.flush()
    assert writer.dead_lettered == 1 and DeadLetter.objects.count() == 1
    base = _minute(rollout, "baseline")
    assert (base.requests, base.errors, base.refusals) == (4, 1, 1)
    assert base.errors_by_kind == {"rate_limited": 1}
    assert base.latency_hist[latency_bucket(420.0)] == 3
    assert base.latency_hist[latency_bucket(30.0)] == 1
    assert base.cost == Decimal("0.00072")  # 4 x (10 x $2 + 20 x $8) / 1M
    cand = _minute(rollout, "candidate")
    assert (cand.requests, cand.json_checked, cand.json_invalid) == (1, 1, 0)
    # The same records again (a client retry): all duplicates, nothing counted twice.
    writer.add(_gateway("g-1", started=started))
    writer.add(_gateway("g-4", started=started, variant="candidate", config_id=route.candidate.id))
    writer.flush()
    assert writer.duplicates == 2
    assert _minute(rollout, "baseline").requests == 4
    assert _minute(rollout, "candidate").requests == 1


def test_successive_gateway_batches_merge_errors_and_histograms(rollout, writer):
    started = datetime(2026, 3, 2, 10, 15, 0, tzinfo=UTC).timestamp()
    kinds = [ErrorKind.TIMEOUT, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT]
    for n, kind in enumerate(kinds):
        writer.add(
            _gateway(
                f"e-{n}",
                started=started + n,
                result=_result("", error_kind=kind, error="x", latency_ms=100.0 * (n + 1)),
            )
        )
        writer.flush()  # one batch each: the second and third merge into the stored row
    m = _minute(rollout, "baseline")
    assert m.errors_by_kind == {"timeout": 2, "server_error": 1}
    assert [m.latency_hist[latency_bucket(v)] for v in (100.0, 200.0, 300.0)] == [1, 1, 1]
    assert sum(m.latency_hist) == 3 and m.requests == m.errors == 3


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_is_added_to_the_minute_of_its_request(rollout, client):
    _ingest(_record(1), _record(2, started_at="2026-03-02T09:00:10Z"))
    _token, plaintext = token_create(name="app", features=[rollout.feature], actor=None)
    invalidate_local()
    headers = {"Authorization": f"Bearer {plaintext}"}
    for body in (
        {"request_id": "r-1", "thumbs": "down"},
        {"request_id": "r-1", "thumbs": "up"},
        {"request_id": "r-1", "score": 2},
        {"request_id": "r-2", "score": 5},
    ):
        response = client.post(
            "/api/v1/feedback",
            json.dumps({"feature": "support-reply", **body}),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 201, response.content
    m = _minute(rollout, "baseline")
    # A score of 1-2 is negative feedback like a thumbs down (Feedback.negative).
    assert (m.feedback_up, m.feedback_down, m.score_sum, m.score_n) == (1, 2, 2, 1)
    early = _minute(rollout, "baseline", "2026-03-02T09:00:00Z")
    assert (early.feedback_up, early.score_sum, early.score_n, early.requests) == (1, 5, 1, 1)


# --- reads ----------------------------------------------------------------------------------------


def test_percentiles_from_the_histogram_fall_in_the_bucket_of_the_exact_ones():
    rng = random.Random(7)
    for mu, sigma in ((5.5, 0.6), (7.0, 1.0), (4.0, 0.3)):
        corpus = [rng.lognormvariate(mu, sigma) for _ in range(20_000)]
        hist = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        for ms in corpus:
            hist[latency_bucket(ms)] += 1
        cuts = statistics.quantiles(corpus, n=100, method="inclusive")
        for q, exact in ((0.50, cuts[49]), (0.95, cuts[94]), (0.99, cuts[98])):
            estimate = percentile_from_hist(hist, q)
            assert estimate is not None
            i = latency_bucket(exact)
            if i == len(LATENCY_BUCKETS_MS):
                assert estimate == LATENCY_BUCKETS_MS[-1]
                continue
            low = 0 if i == 0 else LATENCY_BUCKETS_MS[i - 1]
            assert low <= estimate <= LATENCY_BUCKETS_MS[i], (mu, sigma, q, exact, estimate)


def test_percentile_edge_cases():
    assert percentile_from_hist([], 0.95) is None
    assert percentile_from_hist([0] * 23, 0.5) is None
    only_overflow = [0] * 22 + [5]
    assert percentile_from_hist(only_overflow, 0.5) == LATENCY_BUCKETS_MS[-1]
    assert percentile_from_hist([4], 0.5) == pytest.approx(12.5)  # half way into 0-25 ms
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile_from_hist([1], 95)


def test_series_and_totals_read_both_arms_over_a_window(rollout):
    code = str(rollout.candidate.code)
    _ingest(
        _record(1, started_at="2026-03-02T10:00:10Z"),
        _record(2, started_at="2026-03-02T10:01:10Z", error="x"),
        _record(3, started_at="2026-03-02T10:07:10Z", latency_ms=900.0),
        _record(4, started_at="2026-03-02T10:07:20Z", config=code, output="{}"),
        _record(5, started_at="2026-03-02T11:00:00Z"),
    )
    start = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)  # inside 10:00: that minute counts
    end = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 11:00 itself is outside
    series = rollout_series(rollout_id=rollout.pk, start=start, end=end)
    assert [v.minute.strftime("%H:%M") for v in series["baseline"]] == ["10:00", "10:01", "10:07"]
    assert [v.requests for v in series["candidate"]] == [1]
    assert series["baseline"][1].error_rate == 1.0
    coarse = rollout_series(rollout_id=rollout.pk, start=start, end=end, step=timedelta(minutes=5))
    assert [(v.minute.strftime("%H:%M"), v.requests) for v in coarse["baseline"]] == [
        ("10:00", 2),
        ("10:05", 1),
    ]
    totals = arm_totals(rollout_id=rollout.pk, start=start, end=end)
    base = totals["baseline"]
    assert (base.requests, base.errors, base.tokens) == (3, 1, 4500)
    assert base.error_rate == pytest.approx(1 / 3)
    assert base.latency_n == 3 and latency_bucket(base.p99 or 0) == latency_bucket(900.0)
    assert totals["candidate"].json_checked == 1 and totals["candidate"].json_invalid == 0
    empty = arm_totals(rollout_id=rollout.pk, start=end + timedelta(hours=1), end=None)
    assert empty["candidate"].requests == 0 and empty["candidate"].error_rate is None
    with pytest.raises(ValueError, match="whole number of minutes"):
        rollout_series(rollout_id=rollout.pk, start=start, end=end, step=timedelta(seconds=90))


def test_recording_costs_little_per_row(rollout):
    """A bound that catches an accidental query per row or a quadratic merge, not a benchmark."""
    rows = [
        RequestLog(
            rollout_id=rollout.pk,
            config_id=rollout.baseline_id,
            variant="baseline",
            output="It ships Monday." * 20,
            latency_ms=float(n % 900),
            prompt_tokens=10,
            completion_tokens=5,
            error_kind="timeout" if n % 50 == 0 else "",
            started=datetime(2026, 3, 2, 10, n % 3, tzinfo=UTC),
        )
        for n in range(2000)
    ]
    begin = time.perf_counter()
    metrics.record_minutes(rows)
    elapsed = time.perf_counter() - begin
    assert sum(MetricMinute.objects.values_list("requests", flat=True)) == 2000
    assert elapsed < 0.5, f"{elapsed * 1e6 / 2000:.0f} us per row"
