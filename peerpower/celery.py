"""The Celery application: configured from Django settings (CELERY_ namespace), three priority queues."""

import os

from celery import Celery, platforms
from celery.apps.beat import Beat
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")

app = Celery("peerpower")
app.config_from_object("django.conf:settings", namespace="CELERY")
# High-priority work (OTPs, dispatch of urgent messages) never waits behind bulk work: each priority has its own
# queue, and production runs a worker that consumes only `high`.
app.conf.task_queues = [Queue(name) for name in ("high", "default", "low")]
app.autodiscover_tasks()


class StoppableBeat(Beat):
    """`celery beat` whose stop signal (SIGTERM, SIGINT) only stops it.

    Celery's own handler first saves the schedule from inside the signal handler. A signal that arrives while the
    scheduler is still being built (a slow start under load) makes that save build a second scheduler, which closes
    the database connection the first is using inside its transaction; the error it raises instead of SystemExit is
    caught by the first scheduler's entry set-up, and beat runs on having ignored the signal until it is killed.
    The schedule is saved anyway when the service's loop ends (`Service.start`'s `finally`)."""

    def install_sync_handler(self, service: object) -> None:
        def stop(signum: int, frame: object) -> None:
            raise SystemExit()

        platforms.signals.update(SIGTERM=stop, SIGINT=stop)


app.Beat = app.subclass_with_self(StoppableBeat)
