import itertools

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.test.utils import override_settings

from comparisons.models import ShadowPair
from comparisons.services.scoring import score_pair
from registry.models import Feature, ModelConfig, ModelVersion, Provider, RequestLog
from registry.roles import Role
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts
from tests.flush import allow_test_flush
from tests.gates import pass_gate


def pytest_configure(config):
    # Transactional tests' TRUNCATE flush passes the audit's TRUNCATE triggers (tests/flush.py).
    allow_test_flush()
    # Pages render without a collectstatic run: plain storage instead of the hashed manifest.
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests skip on SQLite with their reason, except under CI=true,
    where a missing PostgreSQL must fail the run rather than hide a skipped tier."""
    import os

    if "postgresql" in settings.DATABASES["default"]["ENGINE"] or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# The fixed cast: every view's permission matrix is tested against these.
CAST = {
    "viewer": None,
    "reviewer": Role.REVIEWER,
    "release": Role.RELEASE_MANAGER,
    "admin": Role.ADMIN,
}


def _make_user(username: str, role: Role | None) -> User:
    user = User.objects.create_user(username=username)  # tests sign in with force_login
    if role:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    if role == Role.ADMIN:
        user.is_staff = True
        user.save()
    return user


@pytest.fixture(autouse=True)
def _fresh_routing():
    """The routing table is a process-wide cache invalidated on commit; test transactions never
    commit, so drop it around every test (a table left over from a rolled-back test would route
    to rows that no longer exist)."""
    from traffic.routing import invalidate_local

    invalidate_local()
    yield
    invalidate_local()


@pytest.fixture(autouse=True)
def _closed_circuits():
    """Circuit breakers are process-wide and shared through the cache: one test's 5xx storm
    must not open the circuit the next test calls."""
    from traffic.providers import breaker

    breaker.forget()
    yield
    breaker.forget()


@pytest.fixture
def cast(db) -> dict[str, User]:
    return {name: _make_user(name, role) for name, role in CAST.items()}


@pytest.fixture
def viewer(cast) -> User:
    return cast["viewer"]


@pytest.fixture
def release(cast) -> User:
    return cast["release"]


@pytest.fixture
def admin_user(cast) -> User:
    return cast["admin"]


@pytest.fixture
def client_for(cast):
    def make(name: str | None) -> Client:
        client = Client()
        if name:
            client.force_login(cast[name])
        return client

    return make


@pytest.fixture
def provider(db) -> Provider:
    return registry.provider_save(
        provider=Provider(
            name="OpenAI",
            api_style=Provider.ApiStyle.OPENAI_CHAT,
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
        ),
        actor=None,
    )


@pytest.fixture
def make_version(provider):
    def make(model_id: str = "gpt-4o-2024-08-06", **kwargs) -> ModelVersion:
        existing = ModelVersion.objects.filter(provider=provider, model_id=model_id).first()
        if existing and not kwargs:
            return existing
        return registry.model_version_save(
            version=ModelVersion(provider=provider, model_id=model_id, **kwargs), actor=None
        )

    return make


@pytest.fixture
def make_config(make_version):
    def make(name: str = "cfg", version: ModelVersion | None = None, **kwargs) -> ModelConfig:
        kwargs.setdefault("system_prompt", "You help {customer}.")
        return registry.config_create(
            config=ModelConfig(name=name, model_version=version or make_version(), **kwargs),
            actor=None,
        )

    return make


@pytest.fixture
def feature(make_config, make_version) -> Feature:
    config = make_config("support v1", make_version("gpt-4o-2024-05-13"))
    return registry.feature_create(
        key="support-reply", name="Support reply", served_config=config, actor=None
    )


@pytest.fixture(scope="session", autouse=True)
def _end_stray_connections(django_db_setup, django_db_blocker):
    """Live-server threads and the gateway's recorder thread keep their own database
    connections; end them so the test database can be dropped at the end of the run."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def live(transactional_db, settings):
    """The whole ASGI app (gateway, simulator, pages) on a real port, simulator on and instant."""
    from tests.live import LiveServer
    from traffic.gateway.recorder import recorder
    from traffic.routing import invalidate_local

    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    settings.ROUTING_REFRESH_SECONDS = 0
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    invalidate_local()
    with LiveServer() as server:
        yield server
    recorder.flush()
    invalidate_local()


@pytest.fixture
def simulated(live):
    """A simulator provider on the live server, and a maker of configs on its model ids."""

    def config(model_id: str, name: str) -> ModelConfig:
        version = ModelVersion.objects.filter(provider=provider, model_id=model_id).first()
        version = version or registry.model_version_save(
            version=ModelVersion(provider=provider, model_id=model_id), actor=None
        )
        return registry.config_create(
            config=ModelConfig(
                name=name,
                model_version=version,
                system_prompt="You are the support assistant of {company}.",
            ),
            actor=None,
        )

    provider = registry.provider_save(
        provider=Provider(
            name="Simulator",
            api_style="openai_chat",
            is_simulator=True,
            base_url=f"{live.url}/simulator/v1",
            timeout=10,
        ),
        actor=None,
    )
    return config


_ids = itertools.count(1)


@pytest.fixture
def shadow_rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)  # shadow needs a gate that cleared (tests/gates.py)
    return rollouts.rollout_start_shadow(rollout=rollout, actor=None)


@pytest.fixture
def make_pair(shadow_rollout):
    def make(
        baseline="The parcel ships on Monday.",
        candidate="The parcel ships on Monday.",
        *,
        labels_wanted=1,
        user_text="Where is my parcel?",
        candidate_error="",
    ) -> ShadowPair:
        n = next(_ids)
        log = RequestLog.objects.create(
            feature=shadow_rollout.feature,
            request_id=f"req-{n}",
            source="ingest",
            config=shadow_rollout.baseline,
            variant="baseline",
            rollout=shadow_rollout,
            messages=[{"role": "user", "content": user_text}],
            output=baseline,
            started=db_now(),
        )
        pair = ShadowPair(
            rollout=shadow_rollout,
            request=log,
            request_key=log.request_id,
            messages=log.messages,
            baseline_config=shadow_rollout.baseline,
            candidate_config=shadow_rollout.candidate,
            served_variant="baseline",
            baseline_output=baseline,
            candidate_output=candidate,
            candidate_error=candidate_error,
            baseline_latency_ms=100,
            candidate_latency_ms=120,
        )
        score_pair(pair, similarity_below=0.5, review_sample_bp=10_000, double_review_bp=0)
        pair.labels_wanted = labels_wanted
        pair.save()
        return pair

    return make
