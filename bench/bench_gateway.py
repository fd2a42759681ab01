"""Gateway benchmarks, measured against a direct call to the same stub in the same run.

1. Added latency, one request at a time: gateway minus direct, p50 and p99
   (targets: p50 <= 1.5 ms, p99 <= 6 ms; and <= 0.10x LiteLLM's added latency).
2. Throughput at concurrency 32 (wrk): gateway vs LiteLLM (target >= 15x), shadow on vs off
   (target >= 0.9x).
3. 1,000 requests in flight against a stub that sleeps 1 s: added p99 <= 50 ms.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import (
    ROOT,
    figure,
    free_port,
    gateway,
    percentile,
    prepare,
    process,
    skipped,
    stub,
    summary,
)

LITELLM = ROOT / "bench" / ".venv" / "bin" / "litellm"
BODY = {
    "model": "bench",
    "messages": [{"role": "user", "content": "Hello there"}],
    "user": "unit-1",
}


def sequential(url: str, headers: dict, n: int) -> list[float]:
    timings = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for _ in range(50):  # warm the connection and the routing table
            client.post(url, json=BODY)
        for _ in range(n):
            start = time.perf_counter()
            response = client.post(url, json=BODY)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text[:300]
    return timings


def interleaved(direct_url, gw_url, gw_headers, n=1500, rounds=5):
    """Alternate short runs so drift on this shared machine hits both paths alike."""
    direct, via = [], []
    for _ in range(rounds):
        direct += sequential(direct_url, {}, n // rounds)
        via += sequential(gw_url, gw_headers, n // rounds)
    return direct, via


LUA = """
wrk.method = "POST"
wrk.body = '{"model": "bench", "messages": [{"role": "user", "content": "Hello"}], "user": "u"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def wrk(url: str, token: str, connections: int, seconds: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(LUA % token)
    script.close()
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for q in ("50", "99"):
        value, unit = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", out).groups()
        lat[q] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": lat["50"],
        "p99": lat["99"],
        "errors": int(errors.group(1)) if errors else 0,
    }


def litellm_proxy(stub_url: str):
    port = free_port()
    config = Path(tempfile.mkdtemp()) / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n"
        f"      model: openai/stub-model\n      api_base: {stub_url}\n      api_key: sk-bench\n"
        "general_settings:\n  master_key: sk-bench-master\n"
        "litellm_settings:\n  telemetry: false\n"
    )
    # Not the product's environment: with DATABASE_URL set, LiteLLM's proxy takes it for its own
    # database (it wants prisma) and never becomes ready.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    return process(
        [str(LITELLM), "--config", str(config), "--port", str(port), "--num_workers", "1"],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/health/liveliness",
        timeout=180,
    ), f"http://127.0.0.1:{port}"


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is needed for the throughput runs: apt-get install -y wrk")
        skipped("gateway (all figures)", "wrk not installed (apt-get install -y wrk)")
        return 0
    have_litellm = LITELLM.exists()
    stub_proc, stub_url = stub()
    with stub_proc:
        plain = prepare(stub_url, shadow=False)
        shadowed = prepare(stub_url, shadow=True)
        headers = {"Authorization": f"Bearer {plain['token']}"}
        gw_proc, gw_url = gateway(plain)
        with gw_proc:
            direct, via = interleaved(
                f"{stub_url}/chat/completions", f"{gw_url}/v1/chat/completions", headers
            )
            added = {q: percentile(via, q) - percentile(direct, q) for q in (50, 99)}
            print(f"direct to stub : {summary(direct)}")
            print(f"via gateway    : {summary(via)}")
            for q, limit in ((50, 1.5), (99, 6.0)):
                figure(
                    f"added latency p{q}",
                    added[q],
                    "ms",
                    text=f"gateway added p{q} {added[q]:.2f} ms (target {limit:g})",
                    peer=percentile(direct, q),
                    peer_name="direct to stub",
                    target=f"<= {limit:g} ms",
                    met=added[q] <= limit,
                )
            off = wrk(f"{gw_url}/v1/chat/completions", plain["token"], 32, 10)
        sgw_proc, sgw_url = gateway(shadowed)
        with sgw_proc:
            on = wrk(f"{sgw_url}/v1/chat/completions", shadowed["token"], 32, 10)
        print(f"gateway c=32   : {off['rps']:.0f} req/s shadow off, {on['rps']:.0f} req/s on")
        ratio = on["rps"] / off["rps"]
        figure(
            "throughput shadow on",
            on["rps"],
            "req/s",
            text=f"shadow on / off throughput {ratio:.2f}x (target 0.9x)",
            peer=off["rps"],
            peer_name="shadow off",
            ratio=ratio,
            target=">= 0.9x",
            met=ratio >= 0.9,
        )
        if have_litellm:
            ll_proc, ll_url = litellm_proxy(stub_url)
            with ll_proc:
                ll_headers = {"Authorization": "Bearer sk-bench-master"}
                direct2, via_ll = interleaved(
                    f"{stub_url}/chat/completions",
                    f"{ll_url}/v1/chat/completions",
                    ll_headers,
                    n=500,
                )
                ll_added = percentile(via_ll, 50) - percentile(direct2, 50)
                ll = wrk(f"{ll_url}/v1/chat/completions", "sk-bench-master", 32, 10)
            print(f"litellm        : added p50 {ll_added:.2f} ms, {ll['rps']:.0f} req/s at c=32")
            figure(
                "added p50 vs LiteLLM",
                added[50],
                "ms",
                text=f"added latency vs LiteLLM {added[50] / ll_added:.3f}x (target 0.10x)",
                peer=ll_added,
                peer_name="LiteLLM",
                ratio=added[50] / ll_added,
                target="<= 0.10x",
                met=added[50] <= 0.10 * ll_added,
            )
            figure(
                "throughput vs LiteLLM",
                off["rps"],
                "req/s",
                text=f"throughput vs LiteLLM {off['rps'] / ll['rps']:.1f}x (target 15x)",
                peer=ll["rps"],
                peer_name="LiteLLM",
                ratio=off["rps"] / ll["rps"],
                target=">= 15x",
                met=off["rps"] >= 15 * ll["rps"],
            )
        else:
            print("LiteLLM not installed in bench/.venv: see bench/README.md (comparison skipped)")
            why = "install with `make bench-env`"
            skipped("added p50 vs LiteLLM", why, target="<= 0.10x")
            skipped("throughput vs LiteLLM", why, target=">= 15x")
    slow_proc, slow_url = stub(delay=1.0)
    with slow_proc:
        world = prepare(slow_url, shadow=False)
        # Two web processes (one per core), as production runs it; 30 s so the opening burst
        # of 1,000 new connections is a small part of the steady state being measured.
        gw_proc, gw_url = gateway(world, workers=2)
        with gw_proc:
            direct = wrk(f"{slow_url}/chat/completions", world["token"], 1000, 30)
            via = wrk(f"{gw_url}/v1/chat/completions", world["token"], 1000, 30)
        added99 = via["p99"] - direct["p99"]
        print(
            f"1000 in flight : direct p99 {direct['p99']:.0f} ms, gateway p99 "
            f"{via['p99']:.0f} ms, errors {via['errors']}"
        )
        figure(
            "added p99 at 1000 in flight",
            added99,
            "ms",
            text=f"added p99 at 1000 in flight {added99:.1f} ms (target 50)",
            peer=direct["p99"],
            peer_name="direct to stub",
            target="<= 50 ms, no errors",
            met=added99 <= 50 and not via["errors"],
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    sys.exit(main())
