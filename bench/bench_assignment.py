"""Assignment decision in process: our Route.choose vs the GrowthBook Python SDK, same run.

Target: <= 1 us per decision and >= 15x GrowthBook. GrowthBook runs in bench/.venv (see README).
"""

import json
import os
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
# Settings refuse to load without an audit key (outside DEBUG); this one never signs anything kept.
os.environ.setdefault("AUDIT_HMAC_KEY", "bench-only-audit-" + "y" * 40)

from harness import figure, skipped  # noqa: E402

from traffic.assignment import ConfigView, ProviderView, Route, seed_for  # noqa: E402
from traffic.redaction import redactor_for  # noqa: E402

N = 1_000_000
UNITS = [f"user-{n}" for n in range(10_000)]

GROWTHBOOK = """
import json, sys, timeit
from growthbook import GrowthBook
features = {"support-reply": {"defaultValue": "baseline", "rules": [{"key": "support-reply",
    "variations": ["baseline", "candidate"], "weights": [0.95, 0.05], "coverage": 1.0,
    "hashAttribute": "id"}]}}
gb = GrowthBook(features=features)
units = [f"user-{n}" for n in range(10_000)]
def decide(i=[0]):
    i[0] = (i[0] + 1) % 10_000
    gb.set_attributes({"id": units[i[0]]})
    return gb.get_feature_value("support-reply", "baseline")
n = int(sys.argv[1])
print(json.dumps(min(timeit.repeat(decide, number=n, repeat=3)) / n * 1e9))
"""


def main() -> int:
    provider = ProviderView("p", "openai_chat", "http://x", "", 30.0, False)
    config = ConfigView(1, "c", "c", "m-2025-01-01", "v", provider, "", {})
    route = Route(
        feature_id=1,
        feature_key="support-reply",
        seed=seed_for("salt"),
        baseline=config,
        candidate=config,
        candidate_bp=500,
        rollout_id=1,
        rollout_status="canary",
        shadowing=True,
        etag="e",
        redactor=redactor_for(emails=False, phones=False, cards=False, custom=[]),
    )
    routes = {"support-reply": route}
    units = UNITS

    def decide(i=[0]):  # noqa: B006 - a cheap counter, as in the GrowthBook loop
        i[0] = (i[0] + 1) % 10_000
        return routes["support-reply"].choose(units[i[0]])

    ours = min(timeit.repeat(decide, number=N, repeat=3)) / N * 1e9
    print(f"Rollout Desk decision: {ours:.0f} ns")
    figure(
        "decision",
        ours / 1000,
        "us",
        text=f"decision {ours / 1000:.3f} us (target 1 us)",
        target="<= 1 us",
        met=ours <= 1000,
    )
    python = ROOT / "bench" / ".venv" / "bin" / "python"
    if not python.exists():
        print("GrowthBook not installed in bench/.venv: see bench/README.md (comparison skipped)")
        skipped("vs GrowthBook", "install with `make bench-env`", target=">= 15x")
        return 0
    theirs = json.loads(
        subprocess.run(
            [str(python), "-c", GROWTHBOOK, str(N // 10)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(f"GrowthBook SDK decision: {theirs:.0f} ns")
    ratio = theirs / ours
    figure(
        "vs GrowthBook",
        ours / 1000,
        "us",
        text=f"{ratio:.1f}x faster than GrowthBook (target 15x)",
        peer=theirs / 1000,
        peer_name="GrowthBook",
        ratio=ratio,
        target=">= 15x",
        met=ratio >= 15,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
