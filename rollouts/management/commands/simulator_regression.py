"""`manage.py simulator_regression on|off|status`: the simulator's staged regression, by hand.

On, the simulated model version (by default the demo's support-reply candidate) fails a share
of its inputs with HTTP 500, answers slower and refuses more, as a real provider's regression
would look; every process serving the simulator sees the switch within about two seconds.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.models import SimulatorRegression
from traffic.simulator.regressions import (
    CACHE_SECONDS,
    DEMO_MODEL,
    simulator_regression_switch,
    simulator_regressions,
    switched_text,
)

CHANGES = ("failure_rate", "failure_status", "extra_latency_ms", "refusal_rate")


def describe(row: SimulatorRegression) -> str:
    """'sim-chat-2025-06-01: ON, 25% of inputs fail with HTTP 500, +300 ms, 5% refusals
    (switched 2026-12-03 13:40:00)'."""
    return (
        f"{row.model_id}: {'ON' if row.on else 'off'}, {row.failure_rate:.0%} of inputs fail "
        f"with HTTP {row.failure_status}, +{row.extra_latency_ms} ms, {row.refusal_rate:.0%} "
        f"refusals (switched {switched_text(row.switched)})"
    )


class Command(BaseCommand):
    help = (
        "Switch the built-in simulator's staged regression on or off, or show it. Needs "
        "SIMULATOR_ENABLED=true."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["on", "off", "status"])
        parser.add_argument(
            "--model",
            default=DEMO_MODEL,
            help=f"Simulated model id (default {DEMO_MODEL}, the demo's support-reply candidate).",
        )
        parser.add_argument(
            "--failure-rate", type=float, help="Share 0..1 of inputs that fail (default 0.25)."
        )
        parser.add_argument(
            "--failure-status", type=int, help="Status of those failures: 500, 429 or 503."
        )
        parser.add_argument(
            "--extra-latency-ms", type=int, help="Added to every answer (default 300)."
        )
        parser.add_argument(
            "--refusal-rate", type=float, help="Share 0..1 of inputs refused (default 0.05)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SIMULATOR_ENABLED:
            raise CommandError(
                "The simulator is disabled here (SIMULATOR_ENABLED is not true), so it has no "
                "regression to switch. Run with SIMULATOR_ENABLED=true, as `make run` does."
            )
        action = options["action"]
        if action == "status":
            for row in simulator_regressions():
                self.stdout.write(describe(row))
            return
        changes = {name: options[name] for name in CHANGES if options[name] is not None}
        if changes and action == "off":
            raise CommandError("Give the regression's values with `on`; `off` takes only --model.")
        try:
            row = simulator_regression_switch(
                model_id=options["model"], on=action == "on", changes=changes
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(describe(row))
        seen = f"every process serving the simulator sees it within {2 * CACHE_SECONDS:g} s"
        if row.on:
            self.stdout.write(
                f"Switched on: {seen}. Every feature served by {row.model_id} is affected, "
                "candidate or baseline. Watch a canary's error-rate and latency charts on its "
                "rollout page: the guardrails roll it back automatically within a minute or two "
                "of beat's evaluation (`manage.py simulator_regression off` ends it)."
            )
        else:
            self.stdout.write(f"Switched off: {seen}; {row.model_id} answers as usual again.")
