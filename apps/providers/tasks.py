"""Periodic jobs of the providers app (registered in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.providers.services import providers_sweep_offline, sims_resync_matchable, sticky_senders_prune


@shared_task(name="providers.sweep_offline")
def sweep_offline() -> int:
    """Mark providers with missed heartbeats offline, then repair any drift in the SIMs' matchable flags.

    One sweep at a time across all workers; a second one started meanwhile does nothing (the next beat comes soon).
    """
    with distributed_lock("providers.sweep_offline", ttl=120) as acquired:
        if not acquired:
            return 0
        marked = providers_sweep_offline()
        sims_resync_matchable()
        return len(marked)


@shared_task(name="providers.prune_sticky_senders")
def prune_sticky_senders() -> int:
    return sticky_senders_prune()
