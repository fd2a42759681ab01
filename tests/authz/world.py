"""One world for the authorization matrix: every kind of object a URL names, the fixed cast
signed in, and an API token of each kind. Built once per test module inside a transaction that is
rolled back at the end (as Django's setUpTestData does); each test runs in a savepoint inside it,
so what an allowed write changes is gone before the next cell."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

from comparisons.batches import ReplayRun
from comparisons.models import ShadowPair
from comparisons.services import review
from comparisons.services.scoring import score_pair
from evaluations.models import Case
from evaluations.services.gates import gate_start
from registry.models import (
    ApiToken,
    AuditEvent,
    Feature,
    ModelConfig,
    ModelVersion,
    Provider,
    RequestLog,
    Rollout,
)
from registry.roles import Role
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts
from rollouts.services.campaigns import campaign_create
from tests.conftest import CAST, _make_user
from tests.gates import make_suite, pass_gate
from traffic.tokens import token_create, token_revoke

from .symbols import ANON, OTHER_TOKEN, REVOKED_TOKEN, TOKEN


@dataclass
class World:
    fmt: dict[str, str]  # the {placeholders} of the matrix's URLs and bodies
    sessions: dict[str, str] = field(default_factory=dict)  # person -> session key
    tokens: dict[str, str] = field(default_factory=dict)  # token actor -> bearer plaintext

    def client(self, actor: str, *, enforce_csrf_checks: bool = False) -> Client:
        """A fresh client per request (no cookie carried over from another cell), signed in
        through the session made once when the world was built."""
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        if actor in self.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return client

    def headers(self, actor: str) -> dict[str, str]:
        if actor in self.tokens:
            return {"Authorization": f"Bearer {self.tokens[actor]}"}
        return {}


_ids = itertools.count(1)


def _config(name: str, version: ModelVersion) -> ModelConfig:
    return registry.config_create(
        config=ModelConfig(name=name, model_version=version, system_prompt="You help {customer}."),
        actor=None,
    )


def _pair(rollout: Rollout, candidate: str, *, labels_wanted: int = 1) -> ShadowPair:
    log = RequestLog.objects.create(
        feature=rollout.feature,
        request_id=f"authz-req-{next(_ids)}",
        source="ingest",
        config=rollout.baseline,
        variant="baseline",
        rollout=rollout,
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        output="The parcel ships on Monday.",
        started=db_now(),
    )
    pair = ShadowPair(
        rollout=rollout,
        request=log,
        request_key=log.request_id,
        messages=log.messages,
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        served_variant="baseline",
        baseline_output=log.output,
        candidate_output=candidate,
        baseline_latency_ms=100,
        candidate_latency_ms=120,
    )
    score_pair(pair, similarity_below=0.5, review_sample_bp=10_000, double_review_bp=0)
    pair.labels_wanted = labels_wanted
    pair.save()
    return pair


def build_world() -> World:
    """Feature A (`support-reply`, in shadow, with pairs, suite, gate, run, campaign, replay)
    and feature B (`ticket-summary`, the other token's), the cast, three tokens."""
    users = {name: _make_user(name, role) for name, role in CAST.items()}
    labellers = [_make_user(f"labeller-{n}", Role.REVIEWER) for n in (1, 2)]
    provider = registry.provider_save(
        provider=Provider(
            name="OpenAI",
            api_style=Provider.ApiStyle.OPENAI_CHAT,
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
        ),
        actor=None,
    )

    def version(model_id: str) -> ModelVersion:
        return registry.model_version_save(
            version=ModelVersion(provider=provider, model_id=model_id), actor=None
        )

    served = _config("support v1", version("gpt-4o-2024-05-13"))
    feature = registry.feature_create(
        key="support-reply", name="Support reply", served_config=served, actor=None
    )
    other_served = _config("summary v1", version("gpt-4o-mini-2024-07-18"))
    other = registry.feature_create(
        key="ticket-summary", name="Ticket summary", served_config=other_served, actor=None
    )
    candidate = _config("support v2", version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    rollout = rollouts.rollout_start_shadow(rollout=pass_gate(rollout), actor=None)

    open_pair = _pair(rollout, "A different answer.", labels_wanted=2)
    labelled = _pair(rollout, "Your parcel left on Monday.")
    review.label_save(pair=labelled, reviewer=users["reviewer"], data=review.LabelInput("left"))
    disputed = _pair(rollout, "Monday, probably.", labels_wanted=2)
    review.label_save(pair=disputed, reviewer=labellers[0], data=review.LabelInput("same"))
    review.label_save(pair=disputed, reviewer=labellers[1], data=review.LabelInput("both_bad"))

    suite = make_suite(feature, cases=[("refund intent", "format", True)])
    draft = Case.objects.create(
        suite=suite, position=9, name="draft case", dimension="tone", draft=True, assertions=[]
    )
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    campaign = campaign_create(
        from_version=served.model_version,
        to_version=version("gpt-4.1-2025-04-14"),
        actor=None,
        start_gates=False,
    )
    replay_run = ReplayRun.objects.create(rollout=rollout, filters={}, request_ids=[], total=0)

    tokens = {
        TOKEN: token_create(name="app-a", features=[feature], actor=None)[1],
        OTHER_TOKEN: token_create(name="app-b", features=[other], actor=None)[1],
    }
    revoked, tokens[REVOKED_TOKEN] = token_create(name="app-old", features=[feature], actor=None)
    token_revoke(token=revoked, actor=None, reason="rotated")

    sessions = {}
    for name, user in users.items():
        client = Client()
        client.force_login(user)  # writes the session and last_login now, not in a cell
        sessions[name] = client.cookies[settings.SESSION_COOKIE_NAME].value

    fmt = {
        "feature": feature.key,
        "other_feature": other.key,
        "rollout": str(rollout.code),
        "open_pair": str(open_pair.code),
        "labelled_pair": str(labelled.code),
        "disputed_pair": str(disputed.code),
        "request_id": open_pair.request.request_id,
        "served_code": str(served.code),
        "served_pk": str(served.pk),
        "other_served_code": str(other_served.code),
        "candidate_code": str(candidate.code),
        "suite": str(suite.code),
        "case": str(draft.code),
        "run": str(gate.runs.get(side="candidate").code),
        "gate": str(gate.code),
        "campaign": str(campaign.code),
        "replay": str(replay_run.code),
        "provider_pk": str(provider.pk),
        "provider_code": str(provider.code),
        "feature_pk": str(feature.pk),
        "token_pk": str(ApiToken.objects.get(name="app-a").pk),
        "event_pk": str(AuditEvent.objects.order_by("-id").values_list("pk", flat=True)[0]),
        "suite_pk": str(suite.pk),
        "run_pk": str(gate.runs.get(side="candidate").pk),
        "gate_pk": str(gate.pk),
        "campaign_pk": str(campaign.pk),
        "user_pk": str(users["viewer"].pk),
        "group_pk": str(users["reviewer"].groups.get().pk),
        "version_pk": str(served.model_version.pk),
        "user_ct": str(_content_type_of(User)),
    }
    assert Feature.objects.count() == 2
    return World(fmt=fmt, sessions=sessions, tokens=tokens)


def _content_type_of(model) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model).pk


@pytest.fixture(scope="module")
def authz_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The world, once per module; every test's own transaction is a savepoint inside it."""
    from traffic.routing import invalidate_local

    with django_db_blocker.unblock(), transaction.atomic():
        world = build_world()
        invalidate_local()
        yield world
        transaction.set_rollback(True)
    invalidate_local()


__all__ = ["ANON", "World", "authz_world", "build_world"]
