"""Ingest throughput on PostgreSQL: the batch API (HTTP, validation, redaction, outbox) against a
raw psycopg binary COPY of the same rows into the same table, in the same run. Target >= 0.6x.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rollout_bench python bench/bench_ingest.py
"""

import os
import sys
import time
from datetime import UTC, datetime

import httpx
import psycopg
from harness import figure, gateway, prepare
from psycopg.types.json import Jsonb

N = 20_000
BATCH = 500
QUESTION = (
    "Hi, I was charged twice for my invoice this month and the second charge shows as "
    "pending. Can you refund one of them? My account is on the team plan. "
) * 2
ANSWER = (
    "Thank you for reaching out. I can see two charges on your invoice; the pending one "
    "will drop off within three working days, and if it does not we will refund it. "
) * 2


def record(n: int, prefix: str) -> dict:
    return {
        "feature": "bench",
        "request_id": f"{prefix}-{n}",
        "unit": f"user-{n % 500}",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"{QUESTION} #{n}"},
        ],
        "output": ANSWER,
        "latency_ms": 420.5,
        "prompt_tokens": 80,
        "completion_tokens": 60,
    }


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("This benchmark compares with PostgreSQL's COPY: set DATABASE_URL=postgres://...")
        return 2
    world = prepare("http://127.0.0.1:9/unused", shadow=False)
    proc, base = gateway(world)
    headers = {"Authorization": f"Bearer {world['token']}"}
    with proc, httpx.Client(headers=headers, timeout=120) as client:
        client.post(f"{base}/api/v1/ingest", json={"records": [record(0, "warm")]})
        start = time.perf_counter()
        for first in range(0, N, BATCH):
            response = client.post(
                f"{base}/api/v1/ingest",
                json={"records": [record(n, "api") for n in range(first, first + BATCH)]},
            )
            assert response.status_code == 201, response.text[:300]
        api_rows = N / (time.perf_counter() - start)
    cols = [
        "feature_id",
        "request_id",
        "unit_key",
        "source",
        "config_id",
        "variant",
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
        "started",
        "created",
        # Columns without a database default (the API writes them too, so the COPY must).
        "scrubbed",
        "body_digest",
    ]
    # The world's own database (made and migrated by prepare), not the server's base one.
    with psycopg.connect(world["env"]["DATABASE_URL"]) as conn:
        feature_id, config_id = conn.execute(
            "SELECT id, served_config_id FROM rollouts_feature WHERE key = 'bench'"
        ).fetchone()
        now = datetime.now(UTC)
        start = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY rollouts_requestlog ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(
                [
                    "bigint",
                    "varchar",
                    "varchar",
                    "varchar",
                    "bigint",
                    "varchar",
                    "jsonb",
                    "jsonb",
                    "text",
                    "varchar",
                    "jsonb",
                    "varchar",
                    "text",
                    "float8",
                    "int4",
                    "int4",
                    "timestamptz",
                    "timestamptz",
                    "bool",
                    "varchar",
                ]
            )
            for n in range(N):
                r = record(n, "copy")
                copy.write_row(
                    [
                        feature_id,
                        r["request_id"],
                        r["unit"],
                        "ingest",
                        config_id,
                        "baseline",
                        Jsonb(r["messages"]),
                        Jsonb({}),
                        r["output"],
                        "",
                        Jsonb([]),
                        "",
                        "",
                        r["latency_ms"],
                        r["prompt_tokens"],
                        r["completion_tokens"],
                        now,
                        now,
                        False,
                        "",
                    ]
                )
        conn.commit()
        copy_rows = N / (time.perf_counter() - start)
    ratio = api_rows / copy_rows
    print(f"batch API : {api_rows:,.0f} rows/s ({BATCH} per request)")
    print(f"raw COPY  : {copy_rows:,.0f} rows/s")
    figure(
        "ingest API rows/s",
        api_rows,
        "rows/s",
        text=f"ingest API / COPY {ratio:.2f}x (target 0.6x)",
        peer=copy_rows,
        peer_name="raw COPY",
        ratio=ratio,
        target=">= 0.6x",
        met=ratio >= 0.6,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
