"""Canary charts over a week of traffic: the chart endpoint (reads per-minute roll-ups) against
the raw query that computes the same per-minute p95 with percentile_cont over request logs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_canary_charts.py [ROWS]

1. A fresh database (`rd_bench_canary_*`, dropped at the end) with one rollout in canary.
2. ROWS request logs (default 5,000,000) over 7 days, made in SQL (`INSERT ... SELECT
   generate_series`): 10% candidate, lognormal latencies, timeouts, refusals, JSON answers.
3. The roll-ups by one set-based SQL statement equivalent to `record_minutes` (checked: the
   minutes of a sample hour equal what `traffic.metrics.minutes_of` computes from the rows),
   then their ten-minute blocks by the migration that builds blocks from minutes.
4. GET /rollouts/<code>/charts/ with Django's test client in process: p95 over 30 calls
   (target <= 250 ms), against the raw query, best of 3 (target >= 20x slower than the endpoint).
5. What `record_minutes` adds to a gateway batch: per row, next to the batch's bulk insert.

PostgreSQL only.
"""

import importlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from harness import PY, ROOT, figure, product_env

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
DAYS = 7
CALLS = 30
REFUSAL = "I'm sorry, but I can't help with that."


def _fresh_database(url: str) -> tuple[str, str]:
    import psycopg

    name = f"rd_bench_canary_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{url.rpartition('/')[0]}/{name}"


def _drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _world():
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.utils import timezone

    from registry.models import ModelConfig, ModelVersion, Provider, Rollout
    from registry.services import registry
    from rollouts.services import rollouts

    provider = registry.provider_save(
        provider=Provider(name="Stub", api_style="openai_chat", base_url="http://127.0.0.1:9/v1"),
        actor=None,
    )
    old = registry.model_version_save(
        version=ModelVersion(
            provider=provider,
            model_id="gpt-4o-2024-05-13",
            input_price=Decimal("2.5"),
            output_price=Decimal("10"),
        ),
        actor=None,
    )
    new = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    baseline = registry.config_create(
        config=ModelConfig(name="v1", model_version=old, system_prompt="Be brief."), actor=None
    )
    candidate = registry.config_create(
        config=ModelConfig(
            name="v2",
            model_version=new,
            system_prompt="Answer in JSON.",
            response_format=ModelConfig.ResponseFormat.JSON_OBJECT,
        ),
        actor=None,
    )
    feature = registry.feature_create(key="bench", name="Bench", served_config=baseline, actor=None)
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=DAYS)
    # Straight to a week-old canary at 10%: the stage machinery is not what is measured.
    Rollout.objects.filter(pk=rollout.pk).update(
        status=Rollout.Status.CANARY, candidate_bp=1000, created=start
    )
    rollout.refresh_from_db()
    viewer = User.objects.create_user("viewer")
    return rollout, viewer, start


GENERATE = """
INSERT INTO rollouts_requestlog (feature_id, request_id, unit_key, source, config_id, variant,
    rollout_id, messages, variables, params, output, finish_reason, tool_calls, error_kind, error,
    latency_ms, prompt_tokens, completion_tokens, started, created, scrubbed, body_digest)
SELECT %(feature)s, 'r-' || g, 'u' || (g %% 5000), 'gateway',
    CASE WHEN g %% 10 = 0 THEN %(candidate)s ELSE %(baseline)s END,
    CASE WHEN g %% 10 = 0 THEN 'candidate' ELSE 'baseline' END,
    %(rollout)s, '[{"role": "user", "content": "Where is my parcel?"}]'::jsonb, '{}'::jsonb,
    '{}'::jsonb,
    CASE WHEN g %% 97 = 0 THEN ''
         WHEN g %% 53 = 0 THEN %(refusal)s
         WHEN g %% 10 = 0 AND g %% 30 = 0 THEN 'Sure: {"answer": "Monday"}'
         WHEN g %% 10 = 0 THEN '{"answer": "It ships Monday."}'
         ELSE 'It ships Monday.' END,
    'stop', '[]'::jsonb,
    CASE WHEN g %% 97 = 0 THEN 'timeout' WHEN g %% 211 = 0 THEN 'server_error' ELSE '' END,
    '',
    exp(5.6 + CASE WHEN g %% 10 = 0 THEN 0.1 ELSE 0 END
        + 0.55 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())),
    200 + g %% 300, 50 + g %% 120,
    %(start)s::timestamptz + (g - 1) * (%(seconds)s::float8 / %(rows)s) * interval '1 second',
    now(), false, ''
FROM generate_series(%(first)s, %(last)s) AS g
"""

# Equivalent to record_minutes over every row of the rollout (bisect_left on the bounds, cost
# at the model version's prices, refusals and invalid JSON by the generated texts).
ROLL_UP = """
WITH rows AS (
    SELECT r.variant, date_trunc('minute', r.started) AS minute, r.error_kind, r.latency_ms,
        r.prompt_tokens, r.completion_tokens, r.output, c.response_format,
        v.input_price, v.output_price,
        CASE WHEN r.latency_ms = ANY(%(bounds)s::float8[])
             THEN width_bucket(r.latency_ms, %(bounds)s::float8[]) - 1
             ELSE width_bucket(r.latency_ms, %(bounds)s::float8[]) END AS bucket
    FROM rollouts_requestlog r
    JOIN rollouts_modelconfig c ON c.id = r.config_id
    JOIN rollouts_modelversion v ON v.id = c.model_version_id
    WHERE r.rollout_id = %(rollout)s
), hist AS (
    SELECT variant, minute, bucket, count(*) AS n FROM rows
    WHERE latency_ms IS NOT NULL GROUP BY 1, 2, 3
), hists AS (
    SELECT k.variant, k.minute, jsonb_agg(coalesce(h.n, 0) ORDER BY i) AS latency_hist
    FROM (SELECT DISTINCT variant, minute FROM hist) k
    CROSS JOIN generate_series(0, %(last_bucket)s) AS i
    LEFT JOIN hist h ON h.variant = k.variant AND h.minute = k.minute AND h.bucket = i
    GROUP BY 1, 2
), kinds AS (
    SELECT variant, minute, jsonb_object_agg(error_kind, n) AS errors_by_kind
    FROM (SELECT variant, minute, error_kind, count(*) AS n FROM rows
          WHERE error_kind <> '' GROUP BY 1, 2, 3) e
    GROUP BY 1, 2
), sums AS (
    SELECT variant, minute, count(*) AS requests,
        count(*) FILTER (WHERE error_kind <> '') AS errors,
        coalesce(sum(latency_ms), 0) AS latency_sum_ms,
        coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
        coalesce(sum(completion_tokens), 0) AS completion_tokens,
        round(coalesce(sum((input_price * prompt_tokens + output_price * completion_tokens)
            / 1000000), 0), 8) AS cost,
        count(*) FILTER (WHERE output = %(refusal)s) AS refusals,
        count(*) FILTER (WHERE response_format <> 'text' AND error_kind = '') AS json_checked,
        count(*) FILTER (WHERE response_format <> 'text' AND error_kind = ''
            AND left(output, 1) <> '{') AS json_invalid
    FROM rows GROUP BY 1, 2
)
INSERT INTO rollouts_metricminute (rollout_id, variant, minute, requests, errors,
    errors_by_kind, latency_hist, latency_sum_ms, prompt_tokens, completion_tokens, cost,
    refusals, json_checked, json_invalid, feedback_up, feedback_down, score_sum, score_n, updated)
SELECT %(rollout)s, s.variant, s.minute, s.requests, s.errors,
    coalesce(k.errors_by_kind, '{}'::jsonb), coalesce(h.latency_hist, '[]'::jsonb),
    s.latency_sum_ms, s.prompt_tokens, s.completion_tokens, s.cost, s.refusals,
    s.json_checked, s.json_invalid, 0, 0, 0, 0, now()
FROM sums s
LEFT JOIN hists h USING (variant, minute)
LEFT JOIN kinds k USING (variant, minute)
"""

RAW = """
SELECT variant, date_trunc('minute', started) AS minute, count(*),
    count(*) FILTER (WHERE error_kind <> '') AS errors,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
FROM rollouts_requestlog
WHERE rollout_id = %s AND started >= %s AND started < %s
GROUP BY 1, 2 ORDER BY 2, 1
"""


def _check_equivalent(rollout, start) -> str:
    """The SQL roll-up of one sample hour equals what record_minutes computes from its rows."""
    from registry.models import MetricMinute, RequestLog
    from traffic.metrics.rollup import minutes_of

    hour = start + timedelta(days=3)
    rows = list(
        RequestLog.objects.filter(
            rollout=rollout, started__gte=hour, started__lt=hour + timedelta(hours=1)
        )
    )
    python = {(d.variant, d.minute): d for d in minutes_of(rows)}
    stored = MetricMinute.objects.filter(
        rollout=rollout, minute__gte=hour, minute__lt=hour + timedelta(hours=1)
    )
    names = ("requests", "errors", "errors_by_kind", "latency_hist", "prompt_tokens",
             "completion_tokens", "cost", "refusals", "json_checked", "json_invalid")  # fmt: skip
    mismatches = 0
    for m in stored:
        d = python.pop((m.variant, m.minute))
        mismatches += any(getattr(m, n) != getattr(d, n) for n in names)
        mismatches += abs(m.latency_sum_ms - d.latency_sum_ms) > 1e-6 * max(d.latency_sum_ms, 1)
    mismatches += len(python)
    return f"{len(rows)} rows, {stored.count()} minutes, {mismatches} mismatches"


def _record_cost() -> tuple[float, float]:
    """µs per row: record_minutes on a gateway-sized batch (2,000 rows over two minutes, a few
    errors), and the batch's own bulk insert, both in a transaction rolled back."""
    from django.db import transaction

    from registry.models import Feature, RequestLog, Rollout
    from traffic.metrics import record_minutes

    rollout = Rollout.objects.get()
    feature = Feature.objects.get()
    from django.utils import timezone

    now = timezone.now()

    def batch(tag: str) -> list[RequestLog]:
        return [
            RequestLog(
                feature=feature,
                request_id=f"{tag}-{n}",
                source="gateway",
                config_id=rollout.candidate_id if n % 10 == 0 else rollout.baseline_id,
                variant="candidate" if n % 10 == 0 else "baseline",
                rollout=rollout,
                messages=[{"role": "user", "content": "Where is my parcel?"}],
                output='{"answer": "It ships Monday."}'
                if n % 10 == 0
                else "It ships Monday. " * 20,
                error_kind="timeout" if n % 97 == 0 else "",
                latency_ms=200.0 + n % 700,
                prompt_tokens=250,
                completion_tokens=80,
                started=now - timedelta(seconds=n % 90),
            )
            for n in range(2000)
        ]

    insert, roll = [], []
    for trial in range(8):
        rows = batch(f"x{trial}")
        with transaction.atomic():
            t0 = time.perf_counter()
            RequestLog.objects.bulk_create(rows)
            t1 = time.perf_counter()
            record_minutes(rows)
            t2 = time.perf_counter()
            transaction.set_rollback(True)
        insert.append((t1 - t0) / len(rows) * 1e6)
        roll.append((t2 - t1) / len(rows) * 1e6)
    return statistics.median(roll), statistics.median(insert)


def main() -> int:
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url.startswith("postgres"):
        print("bench_canary_charts needs DATABASE_URL=postgres://... (it makes its own database)")
        return 2
    name, url = _fresh_database(admin_url)
    try:
        env = product_env(var_dir=os.environ.get("VAR_DIR", "/tmp/rd-bench-canary"))
        env |= {
            "DATABASE_URL": url,
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            "AUDIT_HMAC_KEY": env.get("AUDIT_HMAC_KEY") or "bench-only-audit-" + "y" * 40,
        }
        os.makedirs(env["VAR_DIR"], exist_ok=True)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        figures = _run()
        from django.db import connections

        connections.close_all()
    finally:
        _drop_database(admin_url, name)
    for line in figures:
        print(line)
    return 0


def _run() -> list[str]:
    from django.db import connection
    from django.test import Client

    from registry.models import MetricBlock
    from registry.models.metrics import LATENCY_BUCKETS_MS

    rollout, viewer, start = _world()
    out = []
    t0 = time.perf_counter()
    chunk = 1_000_000
    with connection.cursor() as cursor:
        for first in range(1, ROWS + 1, chunk):
            cursor.execute(
                GENERATE,
                {
                    "feature": rollout.feature_id,
                    "baseline": rollout.baseline_id,
                    "candidate": rollout.candidate_id,
                    "rollout": rollout.pk,
                    "refusal": REFUSAL,
                    "start": start,
                    "seconds": DAYS * 86_400,
                    "rows": ROWS,
                    "first": first,
                    "last": min(first + chunk - 1, ROWS),
                },
            )
        generated = time.perf_counter() - t0
        cursor.execute("ANALYZE rollouts_requestlog")
        t1 = time.perf_counter()
        cursor.execute(
            ROLL_UP,
            {
                "rollout": rollout.pk,
                "bounds": [float(b) for b in LATENCY_BUCKETS_MS],
                "last_bucket": len(LATENCY_BUCKETS_MS),
                "refusal": REFUSAL,
            },
        )
        minutes = cursor.rowcount
        rolled = time.perf_counter() - t1
        from django.apps import apps

        importlib.import_module("registry.migrations.0016_metric_blocks").fill_blocks(apps, None)
        cursor.execute("ANALYZE rollouts_metricminute")
        cursor.execute("ANALYZE rollouts_metricblock")
    out.append(
        f"{ROWS:,} request logs over {DAYS} days generated in {generated:.1f} s; "
        f"{minutes:,} minute roll-ups built in {rolled:.1f} s, "
        f"{MetricBlock.objects.count():,} ten-minute blocks from them"
    )
    out.append(
        f"roll-up equivalent to record_minutes on a sample hour: {_check_equivalent(rollout, start)}"
    )

    client = Client()
    client.force_login(viewer)
    url = f"/rollouts/{rollout.code}/charts/"
    for _ in range(3):  # warm: imports, plotly's validators, the database's caches
        assert client.get(url).status_code == 200
    times = []
    for _ in range(CALLS):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    points = len(response.json()["figures"]["requests"]["data"][0]["x"])
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        cProfile.runctx(
            "client.get(url)", globals(), {"client": client, "url": url}, "/tmp/canary.prof"
        )
        pstats.Stats("/tmp/canary.prof").sort_stats("cumulative").print_stats(30)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    raw = []
    with connection.cursor() as cursor:
        for _ in range(3):
            t = time.perf_counter()
            cursor.execute(RAW, [rollout.pk, start, start + timedelta(days=DAYS)])
            groups = len(cursor.fetchall())
            raw.append((time.perf_counter() - t) * 1000)
    best_raw = min(raw)
    ratio = best_raw / p95
    out.append(
        f"chart endpoint: p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms over {CALLS} "
        f"calls ({points} points per line); raw percentile_cont query: best of 3 "
        f"{best_raw:.0f} ms ({groups:,} minute groups)"
    )
    # Recorded now, printed with the rest once the database is dropped.
    out.append(
        figure(
            "chart endpoint p95",
            p95,
            "ms",
            text=f"chart endpoint p95 {p95:.0f} ms (target 250 ms)",
            target="<= 250 ms",
            met=p95 <= 250,
            echo=False,
        )
    )
    out.append(
        figure(
            "vs raw percentile_cont query",
            p95,
            "ms",
            text=f"raw query / chart endpoint p95 {ratio:.1f}x (target 20x)",
            peer=best_raw,
            peer_name="raw query",
            ratio=ratio,
            target=">= 20x faster",
            met=ratio >= 20,
            echo=False,
        )
    )
    per_row, insert = _record_cost()
    out.append(
        f"record_minutes on a 2,000-row gateway batch: {per_row:.1f} us per row, next to "
        f"{insert:.1f} us per row for the batch's bulk insert ({per_row / insert:.0%})"
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
