"""Eval run execution: one `run_execute` call (in this process, as a worker's task would run it)
on 1,000 cases against a stub provider that answers after 1.0 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_eval_run.py

Ideal = ceil(1000 / EVAL_PROVIDER_CONCURRENCY) * 1.0 s (concurrency 128: 8 s). Prints
ideal / achieved (target >= 0.75), the most calls the stub had in flight at once (target >= 100)
and the most PostgreSQL connections open to the run's database meanwhile (target <= 5), sampled
every 20 ms from a separate connection to another database.

PostgreSQL only: it makes its own database (`rd_bench_evalrun_*`, dropped at the end) next to
DATABASE_URL, so it never touches another benchmark's.
"""

import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid

from harness import PY, ROOT, figure, free_port, process, product_env

CASES = 1000
CONCURRENCY = 128
DELAY = 1.0


# --- the stub provider (run as `bench_eval_run.py stub PORT`) ---------------------------------

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": '{"answer": "A fixed answer."}'},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
    }
).encode()


def stub_main(port: int) -> None:
    import uvicorn

    state = {"now": 0, "max": 0, "calls": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["path"] == "/stats":
            body = json.dumps(state).encode()
        else:
            state["now"] += 1
            state["calls"] += 1
            state["max"] = max(state["max"], state["now"])
            try:
                await asyncio.sleep(DELAY)
            finally:
                state["now"] -= 1
            body = ANSWER
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


# --- the benchmark ------------------------------------------------------------------------------


def _fresh_database(url: str) -> tuple[str, str]:
    import psycopg

    name = f"rd_bench_evalrun_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{url.rpartition('/')[0]}/{name}"


def _drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Sampler(threading.Thread):
    """The most connections open to the bench database, from a connection to another one."""

    def __init__(self, admin_url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.name = admin_url, name
        self.max = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.name,)
                ).fetchone()
                self.max = max(self.max, row[0] if row else 0)


def _world(stub_url: str) -> int:
    from evaluations.models import Case, Suite
    from evaluations.services import runs
    from registry.models import ModelConfig, ModelVersion, Provider
    from registry.services import registry

    runs._enqueue = lambda run: None  # executed below, not by a worker
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=f"{stub_url}/v1", api_key_env=""
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="bench", model_version=version, system_prompt="Be brief."),
        actor=None,
    )
    feature = registry.feature_create(key="bench", name="Bench", served_config=config, actor=None)
    suite = Suite.objects.create(feature=feature, name="bench", prompt="Q: {{question}}")
    Case.objects.bulk_create(
        Case(
            suite=suite,
            name=f"case {n}",
            position=n,
            variables={"question": f"question number {n}"},
            assertions=[
                {"type": "is-json"},
                {"type": "contains", "value": "fixed"},
            ],
        )
        for n in range(CASES)
    )
    return runs.run_create(suite=suite, config=config, actor=None).pk


def main() -> int:
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url.startswith("postgres"):
        print("bench_eval_run needs DATABASE_URL=postgres://... (it makes its own database)")
        return 2
    name, url = _fresh_database(admin_url)
    port = free_port()
    stub_proc = process(
        [PY, __file__, "stub", str(port)], ready_url=f"http://127.0.0.1:{port}/stats"
    )
    try:
        with stub_proc:
            env = product_env(var_dir=os.environ.get("VAR_DIR", "/tmp/rd-bench-evalrun"))
            env |= {
                "DATABASE_URL": url,
                "EVAL_PROVIDER_CONCURRENCY": str(CONCURRENCY),
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
            import httpx

            from evaluations.executor import run_execute, shutdown
            from evaluations.models import Run
            from evaluations.services.runs import run_progress

            run_id = _world(f"http://127.0.0.1:{port}")
            sampler = Sampler(admin_url, name)
            sampler.start()
            start = time.perf_counter()
            run_execute(run_id)
            elapsed = time.perf_counter() - start
            shutdown()
            sampler.stop.set()
            sampler.join()
            stats = httpx.get(f"http://127.0.0.1:{port}/stats").json()
            run = Run.objects.get(pk=run_id)
            progress = run_progress(run)
            from django.db import connections

            connections.close_all()
    finally:
        _drop_database(admin_url, name)

    ideal = math.ceil(CASES / CONCURRENCY) * DELAY
    ratio = ideal / elapsed
    print(
        f"{CASES} cases, {DELAY:.1f} s stub, EVAL_PROVIDER_CONCURRENCY={CONCURRENCY}: "
        f"{elapsed:.2f} s (ideal {ideal:.1f} s); run {run.status}, {progress.passed} passed, "
        f"{progress.failed} failed, {progress.errors} errors; stub saw {stats['calls']} calls"
    )
    figure(
        "run time",
        elapsed,
        "s",
        text=f"ideal / achieved {ratio:.2f} (target 0.75)",
        peer=ideal,
        peer_name="ideal",
        ratio=ratio,
        target=">= 0.75 ideal/achieved",
        met=ratio >= 0.75,
    )
    figure(
        "max calls in flight",
        stats["max"],
        "calls",
        text=f"max calls in flight {stats['max']} (target 100)",
        target=">= 100",
        met=stats["max"] >= 100,
    )
    figure(
        "max PostgreSQL connections",
        sampler.max,
        "conns",
        text=f"max PostgreSQL connections {sampler.max} (target 5)",
        target="<= 5",
        met=sampler.max <= 5,
    )
    ok = progress.passed == CASES and run.status == "completed"
    figure(
        "cases passed",
        progress.passed,
        "cases",
        text=f"every case passed once ({progress.passed}/{CASES})",
        target=f"{CASES}",
        met=ok,
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "stub":
        stub_main(int(sys.argv[2]))
    else:
        sys.exit(main())
