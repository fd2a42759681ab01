"""End to end with real parts: uvicorn serving the gateway and the simulator, a real Celery worker
on the configured broker (Redis in CI, the filesystem transport locally), pairs in the database."""

import openai
import pytest

from comparisons.models import ShadowPair
from registry.models import ShadowJob
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.live import Worker, wait_for
from traffic.gateway.recorder import recorder
from traffic.routing import invalidate_local
from traffic.tokens import token_create


@pytest.mark.slow
def test_a_real_worker_turns_gateway_traffic_into_pairs(live, simulated):
    baseline = simulated("sim-chat-2025-06-01", "baseline")
    candidate = simulated("sim-chat-2025-10-01", "candidate")
    feature = registry.feature_create(
        key="intent-json", name="Intent", served_config=baseline, actor=None
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=token, max_retries=0)
    questions = [
        "refund my invoice",
        "the app crashes",
        "I can't log in",
        "student discount?",
        "payment declined",
        "error 500 on reports",
    ]
    with Worker() as worker:
        served = {}
        for n, question in enumerate(questions):
            raw = client.chat.completions.with_raw_response.create(
                model="intent-json",
                messages=[{"role": "user", "content": question}],
                user=f"u{n}",
                metadata={"company": "Acme"},
            )
            served[raw.headers["X-Request-Id"]] = raw.parse().choices[0].message.content
        recorder.flush()  # the write-behind log, as its thread would do within 0.2 s
        done = wait_for(
            lambda: ShadowPair.objects.filter(rollout=rollout).count() == len(questions),
            timeout=60,
        )
    assert done, f"pairs: {ShadowPair.objects.count()}; worker said:\n{worker.output[-3000:]}"
    assert set(ShadowJob.objects.values_list("status", flat=True)) == {"done"}
    for pair in ShadowPair.objects.filter(rollout=rollout):
        assert pair.baseline_output == served[pair.request_key]
        assert pair.served_variant == "baseline"
        # The candidate answered with its own behaviour (or a recorded error), never served.
        assert pair.candidate_output != pair.baseline_output or pair.candidate_error
