import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")

app = Celery("rollout_site")
# All Celery settings live in rollout_site/settings.py under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
