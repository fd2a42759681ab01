"""Review pages on PostgreSQL with 1,000,000 pairs (made by `manage.py generate_pairs`):
server time of the queue page and the pair page (p95 <= 100 ms), and pair list page 1,000 vs
page 1 (<= 1.2x). Measured in process with Django's test client: server time, no network.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/bench_review.py
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from harness import PY, figure, fresh_postgres, percentile, product_env  # noqa: E402

PAIRS = int(os.environ.get("BENCH_PAIRS", "1000000"))


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    env = product_env(os.environ.get("VAR_DIR", "/tmp/rollout-bench-review"))
    env["DATABASE_URL"] = fresh_postgres(url)
    env["DEBUG"] = "true"
    env["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    # The demo's upgrades reach shadow only through their eval gates, run on the simulator.
    env["SIMULATOR_ENABLED"] = "true"
    env["PROVIDER_ALLOWED_HOSTS"] = "127.0.0.1"

    def run(*args):
        return subprocess.run(
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )

    run("migrate", "-v0")
    run("seed_demo", "--run-gates")
    start = time.perf_counter()
    run("generate_pairs", "--count", str(PAIRS))
    print(f"generated {PAIRS:,} pairs in {time.perf_counter() - start:.0f} s")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from comparisons.models import ShadowPair

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    client.force_login(User.objects.get(username="reviewer"))

    def timed(path, n=60) -> list[float]:
        for _ in range(5):
            client.get(path)
        values = []
        for _ in range(n):
            t = time.perf_counter()
            response = client.get(path)
            values.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        return values

    queue = timed("/review/")
    pair = ShadowPair.objects.order_by("-id")[5000]
    detail = timed(f"/pairs/{pair.code}/")
    first = timed("/pairs/")
    # A page deep in the list: 50,000 pairs back, or half-way in a smaller (--quick) run.
    depth = min(50 * 1000, PAIRS // 2)
    deep_id = ShadowPair.objects.order_by("-id").values_list("id", flat=True)[depth]
    deep = timed(f"/pairs/?before={deep_id}")
    for name, values in (("queue page", queue), ("pair page", detail)):
        p95 = percentile(values, 95)
        figure(
            f"{name} p95",
            p95,
            "ms",
            text=f"{name} p95 {p95:.1f} ms (target 100)",
            target="<= 100 ms",
            met=p95 <= 100,
        )
    ratio = percentile(deep, 50) / percentile(first, 50)
    print(
        f"pair list page 1 p50 {percentile(first, 50):.1f} ms, page 1,000 "
        f"{percentile(deep, 50):.1f} ms"
    )
    figure(
        "pair list page 1,000 p50",
        percentile(deep, 50),
        "ms",
        text=f"page 1,000 / page 1 {ratio:.2f}x (target 1.2x)",
        peer=percentile(first, 50),
        peer_name="page 1",
        ratio=ratio,
        target="<= 1.2x",
        met=ratio <= 1.2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
