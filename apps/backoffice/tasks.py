"""The back office's periodic work: repair yesterday's hourly figures from the messages (thin and idempotent)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.backoffice.figures import local_midnight
from apps.backoffice.rollup import rollup_rebuild
from apps.core.locks import distributed_lock


@shared_task(name="backoffice.rollup_repair")
def rollup_repair() -> int:
    """Rebuild yesterday's local day from the messages: a count lost between a commit and its upsert (a process
    killed right then) comes back, and the day's figures match the messages exactly. Runs after the day has ended, when
    no message moves in its hours any more."""
    with distributed_lock("backoffice.rollup_repair", ttl=3600) as acquired:
        if not acquired:
            return 0
        today = local_midnight(timezone.now())
        return rollup_rebuild(since=today - timedelta(days=1), until=today)
