"""Periodic jobs of top-ups (registered in settings.CELERY_BEAT_SCHEDULE). Safe to run twice."""

from celery import shared_task

from apps.payments.services import topups_reconcile


@shared_task(name="payments.topups_reconcile")
def reconcile_topups() -> int:
    """Ask Baray about top-ups not heard of (lost webhooks), expire unpaid ones, fail never-created intents."""
    return topups_reconcile()
