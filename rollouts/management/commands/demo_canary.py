"""`make demo-canary`: the canary demo against the product `make run` started (see
rollouts/demo_canary.py for the steps, README "The canary demo" for what you will see)."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.errors import DomainError
from rollouts.demo_canary import DemoRefused, Scenario, Timings


class Command(BaseCommand):
    help = (
        "Drive the support-reply upgrade of the running demo through shadow, 5% and 25% on "
        "simulated traffic, then switch the simulator's staged regression on and wait for the "
        "automatic rollback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=f"http://127.0.0.1:{settings.ROLLOUT_PORT}")
        parser.add_argument("--token", default="", help="API token; default: make a demo one.")
        parser.add_argument(
            "--rate", type=float, default=Timings.rate, help="Requests per second in canary."
        )
        parser.add_argument(
            "--no-regression",
            action="store_true",
            help="Stop once the 25%% stage met its minimums; no regression, no rollback.",
        )
        parser.add_argument(
            "--evaluate-here",
            action="store_true",
            help="Evaluate the guardrails here every minute too (when beat is not running).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["token"] and not settings.DEBUG:
            raise CommandError("Pass --token rdk_... (demo tokens are made only with DEBUG).")
        if not options["no_regression"] and not settings.SIMULATOR_ENABLED:
            raise CommandError(
                "The staged regression is the simulator's: run with SIMULATOR_ENABLED=true as "
                "`make demo-canary` does, or pass --no-regression."
            )
        if not options["rate"] > 0:
            raise CommandError(f"--rate must be above 0, not {options['rate']:g}.")
        # httpx logs every request at INFO: at 20 a second that would bury the demo's story.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        timings = Timings(
            rate=options["rate"], evaluate_every=60.0 if options["evaluate_here"] else None
        )
        scenario = Scenario(
            base_url=options["base_url"],
            timings=timings,
            out=lambda line: self.stdout.write(line),
            token=options["token"],
        )
        try:
            scenario.run(regression=not options["no_regression"])
        except (DemoRefused, DomainError) as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
