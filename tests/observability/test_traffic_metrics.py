"""After real traffic (the gateway over HTTP to the simulator, ingest through the API), the
scrape counts it: requests and errors by feature, variant and kind, the gateway's added latency,
refusals, and no label that names a request, a unit or a token."""

import httpx
import pytest

from registry.services import registry
from traffic.gateway.recorder import recorder
from traffic.routing import invalidate_local
from traffic.tokens import token_create

from .conftest import value

REQUESTS = "rollout_desk_requests_total"
ERRORS = "rollout_desk_request_errors_total"


@pytest.fixture
def world(live, simulated):
    support = registry.feature_create(
        key="support-reply",
        name="Support",
        served_config=simulated("sim-fast-2025-01-01", "fast"),
        actor=None,
    )
    flaky = registry.feature_create(
        key="flaky-reply",
        name="Flaky",
        served_config=simulated("sim-flaky-2025-01-01", "flaky"),
        actor=None,
    )
    _, token = token_create(name="app", features=[support, flaky], actor=None)
    invalidate_local()
    return {"url": live.url, "token": token}


def _chat(world, feature: str, request_id: str, user: str) -> httpx.Response:
    return httpx.post(
        f"{world['url']}/v1/chat/completions",
        json={"model": feature, "messages": [{"role": "user", "content": "Hi"}], "user": user},
        headers={"Authorization": f"Bearer {world['token']}", "X-Request-Id": request_id},
        timeout=30,
    )


def _ingest(world, records: list[dict]) -> httpx.Response:
    return httpx.post(
        f"{world['url']}/api/v1/ingest",
        json={"records": records},
        headers={"Authorization": f"Bearer {world['token']}"},
        timeout=30,
    )


def test_gateway_and_ingest_traffic_is_counted_by_feature_variant_and_kind(world, scrape):
    before = scrape()
    for n in range(3):
        assert _chat(world, "support-reply", f"gw-ok-{n}", f"unit-{n}").status_code == 200
    assert _chat(world, "flaky-reply", "gw-fail-0", "unit-9").status_code >= 500
    bad = httpx.post(
        f"{world['url']}/v1/chat/completions",
        json={"model": "support-reply", "messages": []},
        headers={"Authorization": "Bearer rdk_not-a-token"},
    )
    assert bad.status_code == 401
    hi = [{"role": "user", "content": "Hi"}]
    records = [
        {"feature": "support-reply", "request_id": f"in-{n}", "messages": hi, "output": "ok"}
        for n in range(4)
    ]
    records[3] |= {"output": "", "error_kind": "timeout", "error": "gave up"}
    assert _ingest(world, records).status_code in (200, 201), "ingest refused the batch"
    assert _ingest(world, records[:1]).status_code in (200, 201)  # a duplicate: not counted
    recorder.flush()
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    gateway = {"surface": "gateway", "variant": "baseline"}
    ingest = {"surface": "ingest", "variant": "baseline", "feature": "support-reply"}
    assert delta(REQUESTS, feature="support-reply", **gateway) == 3
    assert delta(REQUESTS, feature="flaky-reply", **gateway) == 1
    assert delta(ERRORS, feature="flaky-reply", kind="server_error", **gateway) == 1
    assert delta(ERRORS, feature="support-reply", kind="server_error", **gateway) == 0
    assert delta(REQUESTS, **ingest) == 4
    assert delta(ERRORS, kind="timeout", **ingest) == 1
    assert delta("rollout_desk_gateway_refused_total", status="401") == 1
    # Every answered gateway call observed once; the simulator is instant, so the gateway's
    # own share is what is left, well under the 50 ms alert line on a quiet machine.
    assert delta("rollout_desk_gateway_added_latency_seconds_count") == 4
    assert delta("rollout_desk_gateway_log_records_total", outcome="written") == 4
    assert value(after, "rollout_desk_database_up") == 1

    # Bounded labels: nothing a client chose (request ids, units, tokens) is a label value.
    labels = {v for (_name, pairs) in after for _k, v in pairs}
    chosen = {f"gw-ok-{n}" for n in range(3)} | {f"unit-{n}" for n in range(3)} | {"unit-9"}
    chosen |= {f"in-{n}" for n in range(4)} | {world["token"], "rdk_not-a-token"}
    assert not labels & chosen
    assert not [v for v in labels if world["token"][:12] in v]
    keys = {k for (name, pairs) in after if name.startswith("rollout_desk_") for k, _ in pairs}
    assert keys <= {
        "surface", "feature", "variant", "kind", "status", "outcome", "reason", "trigger",
        "endpoint", "source", "metric", "severity", "state", "le",
    }  # fmt: skip
