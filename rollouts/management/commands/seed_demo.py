"""Demo data: a simulated provider, pinned versions, configs, three features with an eval suite
each, three upgrades, one user per role.

With `--run-gates` the three upgrades' eval gates really run against the simulator (served here
in a thread if nothing answers at its URL yet) and the rollouts move as their verdicts allow:
support-reply passes and starts shadow (on a one-minute shadow stage, so `make demo-canary` takes
it through its canary stages in minutes: rollouts/demo_canary.py), ticket-summary needs
acknowledgement (the seed writes the note) and starts shadow, intent-json is blocked and stays in
`gate`. Without it the upgrades stay drafts and the output says so.

Idempotent: a second run changes nothing and writes no audit events.
"""

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from evaluations.models import Gate, Suite
from evaluations.services.gates import gate_acknowledge, latest_gate
from evaluations.services.suites import case_create, suite_create
from registry.models import Feature, ModelConfig, ModelVersion, Provider, Rollout
from registry.roles import Role
from registry.services import registry
from registry.services.audit import db_now
from rollouts.demo_canary import FEATURE as CANARY_DEMO_FEATURE
from rollouts.demo_canary import demo_plan_write
from rollouts.demo_server import serve_simulator
from rollouts.demo_suites import DEMO_SUITES
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
SEED = "demo seed"
ACK_NOTE = "demo seed: casual tone accepted for internal summaries"
# The demo's upgrades: feature key -> candidate config name (see rollouts/demo_suites.py for
# the verdict each gate gives against the simulator).
UPGRADES = {
    "support-reply": "support v2 (Jun)",
    "intent-json": "intent v2 (Oct)",
    "ticket-summary": "summary v2 (Oct)",
}


class Command(BaseCommand):
    help = (
        "Create demo data (idempotent). Refuses to run without DEBUG unless --allow-production. "
        "--run-gates runs the upgrades' eval gates against the simulator and moves the rollouts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-production", action="store_true")
        parser.add_argument(
            "--simulator-url",
            default=f"http://127.0.0.1:{settings.ROLLOUT_PORT}/simulator/v1",
            help="Base URL of the built-in simulated provider (used when the provider is made).",
        )
        parser.add_argument(
            "--run-gates",
            action="store_true",
            help="Run the eval gates here against the simulator (needs SIMULATOR_ENABLED=true "
            "unless the simulator URL answers already) and move the rollouts by their verdicts.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "seed_demo creates users with published passwords; run it with DEBUG=true, or "
                "pass --allow-production if this really is a throwaway instance."
            )
        with transaction.atomic():
            self._users()
            provider = self._registry(options["simulator_url"])
            for key, spec in DEMO_SUITES.items():
                self._suite(Feature.objects.get(key=key), spec)
            demo = {key: self._rollout(key, name) for key, name in UPGRADES.items()}
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {username:<9} {password:<20} {role.label if role else 'Viewer'}")
        self.stdout.write("Eval gates of the demo upgrades:")
        if not options["run_gates"]:
            self.stdout.write(
                "  not run (pass --run-gates): the upgrades stay drafts; run each gate from its "
                "rollout page."
            )
            return
        from evaluations import executor  # loads the provider clients: only with --run-gates

        with serve_simulator(provider.base_url):
            try:
                for key, rollout in demo.items():
                    if rollout is None:
                        self.stdout.write(f"  {key}: has rollouts of its own; left alone.")
                    else:
                        self._gate(rollout, executor.run_execute)
            finally:
                executor.shutdown()  # closes the pooled provider connections

    def _users(self) -> None:
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = role == Role.ADMIN  # the admin site's login needs is_staff
                user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))

    def _registry(self, simulator_url: str) -> Provider:
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
                reason=SEED,
            )
        today = db_now().date()
        v3 = self._version(provider, "sim-chat-2025-10-01", "Sim Chat (Oct 2025)", None, None)
        v2 = self._version(provider, "sim-chat-2025-06-01", "Sim Chat (Jun 2025)", None, v3)
        v1 = self._version(
            provider, "sim-chat-2025-01-15", "Sim Chat (Jan 2025)", today + timedelta(days=45), v2
        )
        support = self._config("support v1 (Jan)", v1, SUPPORT_PROMPT, 0.3, 400, "text")
        self._config("support v2 (Jun)", v2, SUPPORT_PROMPT, 0.3, 400, "text")
        # Kept for trying a riskier upgrade by hand ("Change candidate" on a rollout page).
        self._config("support v2 (Oct)", v3, SUPPORT_PROMPT, 0.3, 400, "text")
        summary = self._config("summary v1 (Jun)", v2, SUMMARY_PROMPT, 0.2, 300, "text")
        self._config("summary v2 (Oct)", v3, SUMMARY_PROMPT, 0.2, 300, "text")
        intent = self._config("intent v1 (Jun)", v2, INTENT_PROMPT, 0.0, 100, "json_object")
        self._config("intent v2 (Oct)", v3, INTENT_PROMPT, 0.0, 100, "json_object")
        self._feature("support-reply", "Support reply", support, "Drafts replies to customers.")
        self._feature("ticket-summary", "Ticket summary", summary, "Summarises tickets.")
        self._feature("intent-json", "Intent classifier", intent, "Routes messages by intent.")
        return provider

    def _suite(self, feature: Feature, spec: dict[str, Any]) -> None:
        # Created once with its cases; a suite the team edited since is theirs and stays as is.
        if Suite.objects.filter(feature=feature, name=spec["name"]).exists():
            return
        suite = suite_create(
            feature=feature,
            actor=None,
            name=spec["name"],
            description=f"Seeded by the demo: the first suite a team writes for {feature.key}.",
            prompt=spec["prompt"],
            threshold_pp=spec["threshold_pp"],
        )
        for case in spec["cases"]:
            case_create(suite=suite, actor=None, source_ref=SEED, **case)

    def _rollout(self, key: str, candidate_name: str) -> Rollout | None:
        """The feature's demo upgrade, made as a draft on the first run; None once the feature
        has other rollouts (someone used the demo: their history is left alone)."""
        feature = Feature.objects.get(key=key)
        candidate = ModelConfig.objects.get(name=candidate_name)
        found = feature.rollouts.filter(candidate=candidate, note=SEED).order_by("id").first()
        if found or feature.rollouts.exists():
            return found
        return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None, note=SEED)

    def _gate(self, rollout: Rollout, run_execute: Callable[[int], None]) -> None:
        """Run the rollout's gate (unless it has a verdict on this candidate already) and move
        the rollout as the verdict allows."""
        label = f"  {rollout.feature.key}: {rollout.baseline.name} -> {rollout.candidate.name}"
        gate = latest_gate(rollout)
        if rollout.status not in (Rollout.Status.DRAFT, Rollout.Status.GATE):
            verdict = _verdict(gate) if gate else "no gate"
            self.stdout.write(f"{label}: {verdict}; {rollout.get_status_display().lower()}.")
            return
        if gate is None or rollouts.gate_rerun_refusal(rollout, gate) is None:
            gate = rollouts.rollout_start_gate(rollout=rollout, actor=None)
        started = time.monotonic()
        # The gate's runs one after another, each with its cases in flight at once. A run that
        # ended already (a second seed, or a worker got there first) returns at once.
        for run_id in gate.runs.order_by("id").values_list("id", flat=True):
            run_execute(run_id)
        gate.refresh_from_db()
        self.stdout.write(f"{label}: {_verdict(gate)} ({time.monotonic() - started:.1f} s)")
        reasons = (gate.report or {}).get("reasons", [])
        for reason in reasons[:3]:
            self.stdout.write(f"      {reason}")
        if len(reasons) > 3:
            self.stdout.write(f"      ... and {len(reasons) - 3} more on the rollout page.")
        if gate.verdict == Gate.Verdict.NEEDS_ACK and not gate.acknowledged:
            release = User.objects.get(username="release")
            gate = gate_acknowledge(gate=gate, actor=release, note=ACK_NOTE)
            self.stdout.write(f"      acknowledged by {release.username}: “{ACK_NOTE}”")
        if gate.clears:
            if rollout.feature.key == CANARY_DEMO_FEATURE:
                demo_plan_write(rollout=rollout)  # a running stage's minimums are fixed
            rollouts.rollout_start_shadow(rollout=rollout, actor=None, reason=SEED)
            self.stdout.write("      shadow traffic started: its pairs enter the review queue.")
        else:
            self.stdout.write("      the rollout stays in gate: shadow cannot start.")

    def _version(
        self,
        provider: Provider,
        model_id: str,
        display: str,
        deprecates: date | None,
        successor: ModelVersion | None,
    ) -> ModelVersion:
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
            reason=SEED,
        )

    def _config(
        self,
        name: str,
        version: ModelVersion,
        prompt: str,
        temperature: float,
        max_tokens: int,
        response_format: str,
    ) -> ModelConfig:
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
            reason=SEED,
        )

    def _feature(self, key: str, name: str, config: ModelConfig, description: str) -> None:
        if Feature.objects.filter(key=key).exists():
            return
        registry.feature_create(
            key=key,
            name=name,
            description=description,
            owner="Support platform team",
            served_config=config,
            actor=None,
            reason=SEED,
        )


def _verdict(gate: Gate) -> str:
    acknowledged = ", acknowledged" if gate.acknowledged else ""
    return f"{gate.get_verdict_display()}{acknowledged}"
