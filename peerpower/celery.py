"""The Celery application: configured from Django settings (CELERY_ namespace), three priority queues."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")

app = Celery("peerpower")
app.config_from_object("django.conf:settings", namespace="CELERY")
# High-priority work (OTPs, dispatch of urgent messages) never waits behind bulk work: each priority has its own
# queue, and production runs a worker that consumes only `high`.
app.conf.task_queues = [Queue(name) for name in ("high", "default", "low")]
app.autodiscover_tasks()
