"""The pair page with 15 KB per side vs 1 KB per side, on PostgreSQL: server time p95 <= 100 ms
and a same-run ratio <= 1.5x. Also the first view of a pair stored before diffs were kept (its
diff computed then), and the diff + render alone. Measured in process with Django's test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/bench_pair_page.py
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from harness import PY, figure, fresh_postgres, percentile, product_env  # noqa: E402

from tests.comparisons.rewrite_pairs import REWRITES  # noqa: E402 - realistic rewrites


def _sized(parts: list[str], size: int) -> str:
    text, i = "", 0
    while len(text.encode()) < size:
        text += parts[i % len(parts)] + "\n\n"
        i += 1
    return text.encode()[:size].decode(errors="ignore")


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    env = product_env(os.environ.get("VAR_DIR", "/tmp/rollout-bench-pair"))
    env["DATABASE_URL"] = fresh_postgres(url)
    env["DEBUG"] = "true"
    env["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    env.setdefault("PROVIDER_ALLOWED_HOSTS", "127.0.0.1")  # the demo's simulated provider
    for args in (("migrate", "-v0"), ("seed_demo",)):
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from comparisons.models import ShadowPair
    from comparisons.services.diffs import diff_compute
    from registry.models import Rollout

    rollout = Rollout.objects.order_by("id").first()
    if rollout is None:
        print("seed_demo made no rollout to attach the pairs to")
        return 2
    old = [a for a, _ in REWRITES]
    new = [b for _, b in REWRITES]

    def make(size: int, key: str) -> ShadowPair:
        baseline, candidate = _sized(old, size), _sized(new, size)
        return ShadowPair.objects.create(
            rollout=rollout,
            request_key=key,
            messages=[{"role": "user", "content": "How do I reset my router?"}],
            baseline_config=rollout.baseline,
            candidate_config=rollout.candidate,
            served_variant="baseline",
            baseline_output=baseline,
            candidate_output=candidate,
            baseline_latency_ms=900,
            candidate_latency_ms=1100,
            # As the shadow runner stores it (comparisons/services/scoring.py).
            diff=diff_compute(baseline=baseline, candidate=candidate),
        )

    small, large = make(1_000, "bench-1kb"), make(15_000, "bench-15kb")
    client = Client()
    client.force_login(User.objects.get(username="reviewer"))

    def timed(path: str, n: int = 60) -> list[float]:
        for _ in range(5):
            client.get(path)
        values = []
        for _ in range(n):
            t = time.perf_counter()
            response = client.get(path)
            values.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        return values

    # Interleaved rounds, so a noisy neighbour hits both sizes alike.
    one: list[float] = []
    fifteen: list[float] = []
    for _ in range(4):
        one += timed(f"/pairs/{small.code}/", 25)
        fifteen += timed(f"/pairs/{large.code}/", 25)
    first = []
    for _ in range(5):
        ShadowPair.objects.filter(pk=large.pk).update(diff=None)
        t = time.perf_counter()
        client.get(f"/pairs/{large.code}/")
        first.append((time.perf_counter() - t) * 1000)
    p95_1, p95_15 = percentile(one, 95), percentile(fifteen, 95)
    ratio = percentile(fifteen, 50) / percentile(one, 50)
    print(f"1 KB pair page p50 {percentile(one, 50):.1f} ms, p95 {p95_1:.1f} ms")
    print(f"15 KB pair page p50 {percentile(fifteen, 50):.1f} ms, p95 {p95_15:.1f} ms")
    print(f"first view of a 15 KB pair stored without its diff: p50 {percentile(first, 50):.0f} ms")
    figure(
        "15 KB pair page p95",
        p95_15,
        "ms",
        text=f"15 KB pair page p95 {p95_15:.1f} ms (target 100)",
        target="<= 100 ms",
        met=p95_15 <= 100,
    )
    figure(
        "15 KB pair page p50",
        percentile(fifteen, 50),
        "ms",
        text=f"15 KB / 1 KB pair page p50 {ratio:.2f}x (target 1.5x)",
        peer=percentile(one, 50),
        peer_name="1 KB pair page",
        ratio=ratio,
        target="<= 1.5x",
        met=ratio <= 1.5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
