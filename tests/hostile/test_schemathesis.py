"""Generated hostile input against the served OpenAPI schema, in process: schemathesis drives the
Django WSGI app (every /api/v1/ operation) with a real token and a signed-in release manager, so
generated requests reach the handlers, and the ASGI gateway with the built-in simulator as its
provider. No 5xx; every status, header and body as documented; what the schema accepts the
server accepts, and what it refuses the server refuses.

Two tiers: the fast one (every CI run) draws FAST_EXAMPLES cases per operation; the deep one
(`make chaos`, `pytest -m chaos`) draws 1,000, which takes minutes (hypothesis generating the
large bodies costs more than the requests). `HOSTILE_EXAMPLES` overrides both, `HOSTILE_SEED`
picks the seed (printed, so a failure replays with the same cases) and `HOSTILE_ONLY` keeps the
operations whose "METHOD /path" contains it.
"""

import os
import time

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from evaluations.services.gates import gate_start
from rollout_site.wsgi import application as wsgi_app
from tests.hostile.world import CSRF, KNOWN_REQUEST, World, build_world
from traffic.views.openapi import build_schema

FAST_EXAMPLES = 100
DEEP_EXAMPLES = 1000
OVERRIDE = os.environ.get("HOSTILE_EXAMPLES")
TIERS = [
    pytest.param(FAST_EXAMPLES, id="fast"),
    pytest.param(DEEP_EXAMPLES, id="deep", marks=[pytest.mark.chaos, pytest.mark.slow]),
]
SEED = int(os.environ.get("HOSTILE_SEED", "20251111"))
SCHEMA_PATH = "/api/v1/openapi.json"


@pytest.fixture
def in_process():
    """The WSGI handler runs in the test's thread and transaction, as Django's test client
    does: without this its request signals would close the test's connection mid-transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, in_process, settings, feature, shadow_rollout, release, make_config) -> World:
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    # The suite sends thousands of requests a minute on one token on purpose.
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    return build_world(
        feature=feature, rollout=shadow_rollout, release_user=release, make_config=make_config
    )


@pytest.fixture
def gate_code(world, make_config) -> str:
    """A gate to read; of another candidate than the one the generated POSTs start gates for,
    so those reach the 202 (once: then that candidate's gate is running, a 409)."""
    candidate = make_config("read candidate", system_prompt="You reply to {customer}.")
    return str(gate_start(feature=world.feature, candidate=candidate, actor=None, trials=1).code)


def _loaded(app, loader, examples: int):
    loaded = loader(SCHEMA_PATH, app)
    loaded.config.generation.update(
        # The no-NUL rule is global (documented in the schema's description), not a pattern on
        # every string; test_api_inputs.py sends NUL bytes by hand.
        allow_x00=False,
        max_examples=examples,
    )
    # A well-formed body naming a config that is not the feature's is a 422, like an unknown
    # feature is a 404: the schema describes forms, the registry decides what exists.
    loaded.config.checks.positive_data_acceptance.expected_statuses = [
        "2xx",
        "304",
        "403",
        "404",
        "409",
        "422",
    ]
    loaded.config.checks.negative_data_rejection.expected_statuses = [
        *loaded.config.checks.negative_data_rejection.expected_statuses,
        "413",
    ]
    return loaded


def _aim(case, world: World, gate: str, n: int) -> None:
    """Most valid cases name what exists (the feature, the rollout, a logged request), so the
    stored paths run, not only the 404 of a random key. Invalid cases go as generated."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative or n % 4 == 0:
        return
    params = case.path_parameters or {}
    if "key" in params:
        params["key"] = world.feature.key
    if "code" in params:
        params["code"] = gate if "/gates/" in case.operation.path else str(world.rollout.code)
    body = case.body
    if not isinstance(body, dict):
        return
    for name in ("model", "feature"):
        if isinstance(body.get(name), str):
            body[name] = world.feature.key
    if isinstance(body.get("candidate"), str):
        body["candidate"] = world.candidate
    if isinstance(body.get("request_id"), str) and "/feedback" in case.operation.path:
        body["request_id"] = KNOWN_REQUEST
    records = body.get("records")
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and isinstance(record.get("feature"), str):
            record["feature"] = world.feature.key


def _run(operation, call, examples: int) -> None:
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    counter = iter(range(10**9))

    @seed(SEED)
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
    )
    def check(case) -> None:
        call(case, next(counter))

    check()


def _check_all(loaded, paths, call_for, examples) -> tuple[list[str], dict[str, float]]:
    failures, timings = [], {}
    only = os.environ.get("HOSTILE_ONLY", "")
    for path in paths:
        for method in build_schema()["paths"][path]:
            label = f"{method.upper()} {path}"
            if only not in label:
                continue
            started = time.perf_counter()
            try:
                _run(loaded[path][method.upper()], call_for(label, path), examples)
            except Exception as exc:
                failures.append(f"{label}:\n{exc}")
            timings[label] = time.perf_counter() - started
    return failures, timings


def _report(capsys, timings, seen, examples: int) -> None:
    with capsys.disabled():
        print(f"\nschemathesis seed={SEED} examples={examples} per operation")
        for label, seconds in timings.items():
            print(f"  {label}: {seconds:.1f} s, statuses {sorted(seen.get(label, ()))}")


@pytest.mark.parametrize("examples", TIERS)
def test_the_django_api_keeps_its_contract(world, gate_code, capsys, examples):
    examples = int(OVERRIDE or examples)
    loaded = _loaded(wsgi_app, schemathesis.openapi.from_wsgi, examples)
    seen: dict[str, set[int]] = {}
    session = {"sessionid": world.release.cookies["sessionid"].value, "csrftoken": CSRF}
    # The rollback goes last: once it succeeded the rollout has ended, and the other operations
    # would meet only its 409s.
    paths = sorted(
        (p for p in build_schema()["paths"] if p.startswith("/api/")),
        key=lambda p: p.endswith("/rollback"),
    )

    def call_for(label: str, path: str):
        def call(case, n: int) -> None:
            _aim(case, world, gate_code, n)
            if path.endswith("/rollback"):  # a signed-in release manager with the CSRF token
                headers = {"X-CSRFToken": CSRF}
                response = case.call_and_validate(headers=headers, cookies=session)
            else:
                response = case.call_and_validate(headers=world.auth)
            seen.setdefault(label, set()).add(response.status_code)

        return call

    failures, timings = _check_all(loaded, paths, call_for, examples)
    _report(capsys, timings, seen, examples)
    assert not failures, "\n\n".join(failures)
    # The aimed cases reached the handlers' stored paths, not only refusals.
    for label, status in [
        ("POST /api/v1/ingest", 201),
        ("POST /api/v1/feedback", 201),
        ("POST /api/v1/rollouts/{code}/pairs", 201),
        ("POST /api/v1/gates", 202),
        ("GET /api/v1/gates/{code}", 200),
        ("POST /api/v1/rollouts/{code}/rollback", 200),
        ("GET /api/v1/features/{key}/assignment", 200),
    ]:
        assert label not in seen or status in seen[label], (label, seen[label])


@pytest.fixture
def gateway(live, simulated, settings):
    """The gateway's own threads read the database, so its rows are committed (live is a
    transactional fixture); the simulator answers over real HTTP on the live server."""
    from registry.services import registry
    from traffic.routing import invalidate_local
    from traffic.tokens import token_create

    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 0
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
    config = simulated("sim-fast-2025-01-01", "contract v1")
    feature = registry.feature_create(
        key="hostile-gw", name="Hostile gateway", served_config=config, actor=None
    )
    _token, plaintext = token_create(name="hostile-gw", features=[feature], actor=None)
    invalidate_local()
    return {"key": feature.key, "auth": {"Authorization": f"Bearer {plaintext}"}}


@pytest.mark.parametrize("examples", TIERS)
def test_the_gateway_keeps_its_contract(gateway, capsys, examples):
    from rollout_site.asgi import application as asgi_app

    examples = int(OVERRIDE or examples)
    loaded = _loaded(asgi_app, schemathesis.openapi.from_asgi, examples)
    seen: dict[str, set[int]] = {}
    paths = [p for p in build_schema()["paths"] if not p.startswith("/api/")]

    def call_for(label: str, path: str):
        def call(case, n: int) -> None:
            meta, body = case.meta, case.body
            aimed = meta is not None and not meta.generation.mode.is_negative and n % 4
            if aimed and isinstance(body, dict) and isinstance(body.get("model"), str):
                body["model"] = gateway["key"]  # the real feature, so the provider is called
            response = case.call_and_validate(headers=gateway["auth"])
            seen.setdefault(label, set()).add(response.status_code)

        return call

    failures, timings = _check_all(loaded, paths, call_for, examples)
    _report(capsys, timings, seen, examples)
    assert not failures, "\n\n".join(failures)
    assert 200 in seen["POST /v1/chat/completions"], seen
