"""A small traffic generator for the demo: realistic requests through the gateway, over HTTP."""

import itertools
import random
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.models import Feature
from traffic.tokens import token_create

QUESTIONS = {
    "support-reply": [
        "Hi, I was charged twice for my invoice this month, can you refund one?",
        "The app crashes every time I open the settings page. What can I do?",
        "I forgot my password and the reset email never arrives (me@example.com).",
        "How do I export my data to CSV?",
        "Can I change the billing address on my subscription?",
        "My card 4111 1111 1111 1111 was declined, why?",
        "Is there a way to add a second admin to our account?",
    ],
    "ticket-summary": [
        "Customer reports login loop on Safari since Tuesday. Cleared cookies, no change. "
        "Affects 3 users in the same org. Urgent because of a demo tomorrow.",
        "Invoice 1042 shows the wrong VAT rate. Customer in Germany. Finance asked to re-issue.",
        "Export to CSV times out for workspaces with more than 50k rows. Repro attached.",
    ],
    "intent-json": [
        "I want a refund for last month's charge",
        "The dashboard shows an error 500 when I click reports",
        "I can't log in, it says my account is locked",
        "Do you have a student discount?",
        "Why was my payment declined?",
    ],
}


class Command(BaseCommand):
    help = "Send demo traffic to the gateway (OpenAI format) so shadow pairs appear on their own."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=f"http://127.0.0.1:{settings.ROLLOUT_PORT}")
        parser.add_argument("--rate", type=float, default=0.5, help="Requests per second.")
        parser.add_argument("--count", type=int, default=0, help="Stop after N (0: run on).")
        parser.add_argument("--token", default="", help="API token; default: make a demo one.")
        parser.add_argument("--users", type=int, default=200, help="Distinct unit keys.")

    def handle(self, *args, **options):
        keys = [k for k in QUESTIONS if Feature.objects.filter(key=k).exists()]
        if not keys:
            raise CommandError("No demo features: run `manage.py seed_demo` first.")
        token = options["token"]
        if not token:
            if not settings.DEBUG:
                raise CommandError("Pass --token rdk_... (demo tokens are made only with DEBUG).")
            _, token = token_create(
                name="demo traffic generator",
                features=list(Feature.objects.filter(key__in=keys)),
                actor=None,
            )
        url = options["base_url"].rstrip("/") + "/v1/chat/completions"
        rng = random.Random(7)  # noqa: S311 - demo traffic, not security
        client = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"})
        self.stdout.write(f"Sending demo traffic to {url} at {options['rate']}/s")
        for n in itertools.count(1):
            key = rng.choice(keys)
            body = {
                "model": key,
                "user": f"user-{rng.randrange(options['users'])}",
                "messages": [{"role": "user", "content": rng.choice(QUESTIONS[key])}],
                "metadata": {"company": "Acme"},
            }
            try:
                response = client.post(url, json=body)
                variant = response.headers.get("x-rollout-variant", "?")
                self.stdout.write(f"{key} -> {response.status_code} ({variant})")
            except httpx.HTTPError as exc:
                self.stdout.write(f"{key} -> {exc.__class__.__name__}; the server may be starting")
            if options["count"] and n >= options["count"]:
                return
            time.sleep(rng.expovariate(options["rate"]) if options["rate"] > 0 else 0)
