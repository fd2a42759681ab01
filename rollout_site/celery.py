import os

from celery import Celery
from celery.signals import worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")

app = Celery("rollout_site")
# All Celery settings live in rollout_site/settings.py under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_shutdown.connect
def _process_exited(pid: int | None = None, **_kwargs: object) -> None:
    # Prefork children end with os._exit, so atexit never runs: drop their live gauges here
    # (registry/observability.py; the main process and the thread pool use atexit).
    from registry.observability import process_exited

    process_exited(pid)
