"""Fixtures shared by the application API tests (tests/rollouts/test_api_*.py)."""

import pytest

from registry.models import Feature
from registry.services import registry
from traffic.routing import invalidate_local
from traffic.tokens import token_create


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def other_feature(make_config, make_version) -> Feature:
    config = make_config("summary v1", make_version("gpt-4o-mini-2024-07-18"))
    feature = registry.feature_create(
        key="ticket-summary", name="Ticket summary", served_config=config, actor=None
    )
    invalidate_local()
    return feature


@pytest.fixture
def token_for(db):
    """token_for(feature, ...) -> the plaintext of a live token scoped to those features."""

    def make(*features: Feature, name: str = "app") -> str:
        _token, plaintext = token_create(name=name, features=list(features), actor=None)
        invalidate_local()
        return plaintext

    return make


@pytest.fixture
def candidate(make_config, make_version):
    """A config that can be the candidate of a rollout of `feature`."""
    return make_config(
        "support v2",
        make_version("gpt-4o-2024-08-06"),
        system_prompt="You answer {customer} kindly.",
        temperature=0.3,
        max_tokens=256,
    )
