"""Automatic comparison of one 4 KB pair: our metrics vs rapidfuzz's similarity alone, same run.

Targets: p50 <= 1 ms, and <= 2x rapidfuzz alone.
"""

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")

from harness import figure
from rapidfuzz.distance import Indel

from comparisons.metrics import compare, flags

WORDS = [
    "order",
    "refund",
    "parcel",
    "invoice",
    "account",
    "password",
    "shipping",
    "delay",
    "warehouse",
    "customer",
    "support",
    "ticket",
    "please",
    "thanks",
    "help",
    "reset",
    "email",
    "address",
    "payment",
    "charge",
]


def text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rng.choice(WORDS))
    return " ".join(out)[:size]


def timed(fn, runs: int) -> list[float]:
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * 1000)
    return values


def main() -> int:
    rng = random.Random(4)
    a = text(rng, 4096)
    words = a.split()
    for _ in range(60):  # a candidate that differs in a few dozen places
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    b = " ".join(words)

    def ours():
        m = compare(baseline=a, candidate=b, baseline_latency_ms=300, candidate_latency_ms=420)
        flags(m, similarity_below=0.5)

    def theirs():
        Indel.normalized_similarity(a.split(), b.split())

    for fn in (ours, theirs):
        timed(fn, 200)
    mine, base = [], []
    for _ in range(10):  # interleaved, so drift hits both
        mine += timed(ours, 200)
        base += timed(theirs, 200)
    p50, r50 = statistics.median(mine), statistics.median(base)
    print(f"metrics of a 4 KB pair: p50 {p50 * 1000:.0f} us; rapidfuzz alone {r50 * 1000:.0f} us")
    figure(
        "4 KB pair p50",
        p50,
        "ms",
        text=f"p50 {p50:.3f} ms (target 1 ms)",
        target="<= 1 ms",
        met=p50 <= 1,
    )
    figure(
        "vs rapidfuzz alone",
        p50,
        "ms",
        text=f"{p50 / r50:.2f}x rapidfuzz alone (target 2x)",
        peer=r50,
        peer_name="rapidfuzz",
        ratio=p50 / r50,
        target="<= 2x",
        met=p50 <= 2 * r50,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
