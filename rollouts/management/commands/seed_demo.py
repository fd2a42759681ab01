"""Demo data: a simulated provider, pinned versions, configs, three features, one user per role.

Idempotent: a second run changes nothing and writes no audit events.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from registry.models import Feature, ModelConfig, ModelVersion, Provider
from registry.roles import Role
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts

DEMO_USERS = [
    # username, password, role (None: a signed-in viewer with no role)
    ("viewer", "viewer-demo-pass", None),
    ("reviewer", "reviewer-demo-pass", Role.REVIEWER),
    ("release", "release-demo-pass", Role.RELEASE_MANAGER),
    ("admin", "admin-demo-pass", Role.ADMIN),
]

SUPPORT_PROMPT = (
    "You are the support assistant of {company}. Answer the customer's question politely, "
    "in at most three short paragraphs, and never promise refunds."
)
SUMMARY_PROMPT = "Summarise the support ticket for an engineer in at most five bullet points."
INTENT_PROMPT = (
    'Classify the message. Reply with JSON only: {{"intent": one of "billing", "bug", '
    '"account", "other", "confidence": a number from 0 to 1}}.'
)


class Command(BaseCommand):
    help = "Create demo data (idempotent). Refuses to run without DEBUG unless --allow-production."

    def add_arguments(self, parser):
        parser.add_argument("--allow-production", action="store_true")
        parser.add_argument(
            "--simulator-url",
            default=f"http://127.0.0.1:{settings.ROLLOUT_PORT}/simulator/v1",
            help="Base URL of the built-in simulated provider.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "seed_demo creates users with published passwords; run it with DEBUG=true, or "
                "pass --allow-production if this really is a throwaway instance."
            )
        with transaction.atomic():
            self._users()
            self._registry(options["simulator_url"])
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {username:<9} {password:<20} {role.label if role else 'Viewer'}")

    def _users(self):
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = role == Role.ADMIN  # the admin site's login needs is_staff
                user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))

    def _registry(self, simulator_url: str):
        provider = Provider.objects.filter(is_simulator=True).first()
        if provider is None:
            provider = registry.provider_save(
                provider=Provider(
                    name="Simulator (built-in)",
                    api_style=Provider.ApiStyle.OPENAI_CHAT,
                    base_url=simulator_url,
                    timeout=30,
                    is_simulator=True,
                ),
                actor=None,
                reason="demo seed",
            )
        today = db_now().date()
        v3 = self._version(provider, "sim-chat-2025-10-01", "Sim Chat (Oct 2025)", None, None)
        v2 = self._version(provider, "sim-chat-2025-06-01", "Sim Chat (Jun 2025)", None, v3)
        v1 = self._version(
            provider, "sim-chat-2025-01-15", "Sim Chat (Jan 2025)", today + timedelta(days=45), v2
        )
        support = self._config("support v1 (Jan)", v1, SUPPORT_PROMPT, 0.3, 400, "text")
        support_next = self._config("support v2 (Oct)", v3, SUPPORT_PROMPT, 0.3, 400, "text")
        summary = self._config("summary v1 (Jun)", v2, SUMMARY_PROMPT, 0.2, 300, "text")
        self._config("summary v2 (Oct)", v3, SUMMARY_PROMPT, 0.2, 300, "text")
        intent = self._config("intent v1 (Jun)", v2, INTENT_PROMPT, 0.0, 100, "json_object")
        intent_next = self._config("intent v2 (Oct)", v3, INTENT_PROMPT, 0.0, 100, "json_object")
        self._feature("support-reply", "Support reply", support, "Drafts replies to customers.")
        self._feature("ticket-summary", "Ticket summary", summary, "Summarises tickets.")
        self._feature("intent-json", "Intent classifier", intent, "Routes messages by intent.")
        # Two upgrades in shadow, so the demo's traffic produces pairs to review at once.
        self._shadow_rollout("support-reply", support_next)
        self._shadow_rollout("intent-json", intent_next)

    def _shadow_rollout(self, key, candidate):
        feature = Feature.objects.get(key=key)
        if feature.rollouts.exists():
            return
        rollout = rollouts.rollout_create(
            feature=feature, candidate=candidate, actor=None, note="demo seed"
        )
        rollouts.rollout_start_shadow(rollout=rollout, actor=None, reason="demo seed")

    def _version(self, provider, model_id, display, deprecates, successor):
        found = ModelVersion.objects.filter(provider=provider, model_id=model_id).first()
        if found:
            return found
        return registry.model_version_save(
            version=ModelVersion(
                provider=provider,
                model_id=model_id,
                display_name=display,
                deprecates=deprecates,
                successor=successor,
            ),
            actor=None,
            reason="demo seed",
        )

    def _config(self, name, version, prompt, temperature, max_tokens, response_format):
        found = ModelConfig.objects.filter(name=name, model_version=version).first()
        if found:
            return found
        return registry.config_create(
            config=ModelConfig(
                name=name,
                model_version=version,
                system_prompt=prompt,
                temperature=temperature,
                max_tokens=max_tokens,
                response_format=response_format,
            ),
            actor=None,
            reason="demo seed",
        )

    def _feature(self, key, name, config, description):
        if Feature.objects.filter(key=key).exists():
            return
        registry.feature_create(
            key=key,
            name=name,
            description=description,
            owner="Support platform team",
            served_config=config,
            actor=None,
            reason="demo seed",
        )
