"""`make run`: prepare the embedded instance and start web + worker + beat under one manager."""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from registry.observability import MULTIPROC_ENV, multiproc_dir_reset


class Command(BaseCommand):
    help = "Migrate, seed demo data, then run web server, Celery worker and beat (Ctrl-C stops)."

    def handle(self, *args, **options):
        # Before the processes start: each writes its metrics there, GET /metrics adds them up,
        # and the last run's figures are gone (registry/observability.py).
        metrics_dir = Path(os.environ.setdefault(MULTIPROC_ENV, str(settings.VAR_DIR / "metrics")))
        multiproc_dir_reset(metrics_dir)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        # The demo upgrades' gates run now against the simulator, which the seed serves on
        # ROLLOUT_PORT for the time being: the web server below starts on a finished demo.
        call_command("seed_demo", "--run-gates")
        port = settings.ROLLOUT_PORT
        self.stdout.write(
            self.style.SUCCESS(f"\nRollout Desk is starting on http://127.0.0.1:{port}/")
            + "\nSign in with one of the demo logins above. Ctrl-C stops everything.\n"
        )
        sys.stdout.flush()
        py = sys.executable
        manager = Manager()
        manager.add_process(
            "web",
            f"{py} -m uvicorn rollout_site.asgi:application --host 127.0.0.1 --port {port} "
            "--no-access-log",
        )
        # Shadow calls wait seconds on the provider: a thread pool keeps many in flight.
        manager.add_process(
            "worker", f"{py} -m celery -A rollout_site worker -l INFO -P threads -c 50"
        )
        manager.add_process("beat", f"{py} -m celery -A rollout_site beat -l INFO")
        manager.add_process("traffic", f"{py} manage.py traffic --rate 0.5")
        manager.loop()
        sys.exit(manager.returncode)
