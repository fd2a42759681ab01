"""The API keeps its contract: schemathesis drives the whole ASGI app (Django API and gateway) on
a live uvicorn from the served OpenAPI schema, with a real token and the built-in simulator as
the provider. No 5xx; every status, content type, header and body as documented; what the schema
accepts the server accepts, and what it refuses the server refuses."""

from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from registry.services import registry
from traffic.routing import invalidate_local
from traffic.tokens import token_create
from traffic.views.openapi import build_schema

# Per operation and run: enough to find a schema/server mismatch, small enough for the fast tier.
EXAMPLES = 20


@dataclass
class World:
    url: str
    key: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def world(live, simulated) -> World:
    config = simulated("sim-fast-2025-01-01", "contract v1")
    feature = registry.feature_create(
        key="contract-reply", name="Contract reply", served_config=config, actor=None
    )
    _token, plaintext = token_create(name="contract", features=[feature], actor=None)
    invalidate_local()
    return World(url=live.url, key=feature.key, token=plaintext)


@pytest.fixture
def api_schema(world):
    loaded = schemathesis.openapi.from_url(f"{world.url}/api/v1/openapi.json")
    loaded.config.generation.update(
        # The no-NUL rule is global (documented in the schema's description); repeating it as a
        # pattern on every string would make the schema unreadable.
        allow_x00=False,
        max_examples=EXAMPLES,
    )
    # A well-formed record whose config code is not the feature's is a 422, like an unknown
    # feature is a 404: the schema describes forms, the registry decides what exists.
    loaded.config.checks.positive_data_acceptance.expected_statuses = [
        "2xx",
        "304",
        "403",
        "404",
        "409",
        "422",
    ]
    # An invalid body may also be refused for its size before it is read (413).
    loaded.config.checks.negative_data_rejection.expected_statuses = [
        *loaded.config.checks.negative_data_rejection.expected_statuses,
        "413",
    ]
    return loaded


def _aim(case, world: World) -> None:
    """Most valid cases name the real feature, so the stored path (and the gateway's provider
    call) is exercised, not only the 404 of a random key. Invalid cases are left as generated."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative:
        return
    if "key" in (case.path_parameters or {}):
        case.path_parameters["key"] = world.key
    body = case.body
    if isinstance(body, dict):
        for name in ("model", "feature"):
            if isinstance(body.get(name), str):
                body[name] = world.key
        records = body.get("records")
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict) and isinstance(record.get("feature"), str):
                record["feature"] = world.key


# The pytest plugin's lazy loader (schemathesis.pytest.from_fixture) does not run on pytest 9,
# and one live server for all operations keeps the run short: the test builds each operation's
# Hypothesis strategy itself (valid and invalid cases) and reports every operation that fails.
@pytest.mark.slow
def test_the_api_keeps_its_contract(api_schema, world):
    documented = build_schema()["paths"]
    failures = []
    seen: dict[str, set[int]] = {}
    for path, operations in documented.items():
        for method in operations:
            operation = api_schema[path][method.upper()]
            strategy = st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                print_blob=False,
            )
            def check(case) -> None:
                _aim(case, world)
                response = case.call_and_validate(headers=world.headers)
                label = f"{case.method} {case.operation.path}"
                seen.setdefault(label, set()).add(response.status_code)

            try:
                check()
            except Exception as exc:
                failures.append(f"{method.upper()} {path}:\n{exc}")
    assert not failures, "\n\n".join(failures)
    # The aimed cases reached the stored and served paths, not only refusals.
    assert 201 in seen["POST /api/v1/ingest"], seen
    assert 200 in seen["POST /v1/chat/completions"], seen
    assert 200 in seen["GET /api/v1/features/{key}/assignment"], seen
