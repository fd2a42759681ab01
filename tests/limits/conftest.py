import os
import socket
import uuid

import pytest
from django.conf import settings

from registry.models import ModelConfig, ModelVersion, Provider
from registry.services import registry
from traffic.routing import invalidate_local
from traffic.tokens import token_create

# Locally the suite may run without Redis (the embedded file cache counts, approximately);
# under CI=true Redis is configured and these tests must run, not skip.
needs_redis = pytest.mark.skipif(
    not settings.CACHE_URL and os.environ.get("CI") != "true",
    reason="needs a shared Redis: set CACHE_URL or CELERY_BROKER_URL=redis://...",
)


def dead_redis_url() -> str:
    """A Redis URL on a loopback port nothing listens on: the store is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def unique(prefix: str) -> str:
    # Counts live in the shared store (Redis or var/cache) beyond one test run: every test
    # signs in as a new name from a new address, so earlier runs never count.
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


@pytest.fixture
def tokens(db):
    """Two applications' tokens on one feature (no provider call is needed for the API)."""
    provider = registry.provider_save(
        provider=Provider(
            name="Simulator",
            api_style="openai_chat",
            is_simulator=True,
            base_url="http://127.0.0.1:9/simulator/v1",
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="sim-fast-2025-01-01"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="fast", model_version=version, system_prompt="You help."),
        actor=None,
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _, first = token_create(name="first", features=[feature], actor=None)
    _, second = token_create(name="second", features=[feature], actor=None)
    invalidate_local()
    return {"feature": feature, "first": first, "second": second}
