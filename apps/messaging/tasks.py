"""Messaging tasks: thin wrappers that take ids and call services. All safe to run twice."""

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.messaging.idempotency import idempotency_keys_prune
from apps.messaging.retention import jobs_prune_batch, messages_redact_batch, run_in_batches
from apps.messaging.services import jobs_expire_overdue, messages_dispatch_until_done, messages_reconcile
from apps.messaging.services.admission import admission_refresh as admission_snapshot_refresh
from apps.messaging.services.dispatch import DISPATCH_TASK_SECONDS


@shared_task(name="messaging.dispatch_due")
def dispatch_due(priority: str | None = None, budget_seconds: float = DISPATCH_TASK_SECONDS) -> dict[str, int]:
    """Dispatch due queued messages: without `priority`, a batch of each priority, high first (light load, on the
    high queue); with it, that priority's backlog in batches (on its own queue). apps.messaging.services.signal."""
    return messages_dispatch_until_done(priority=priority, seconds=budget_seconds)


@shared_task(name="messaging.expire_leases")
def expire_leases() -> int:
    with distributed_lock("messaging.expire_leases", ttl=60) as acquired:
        return jobs_expire_overdue() if acquired else 0


@shared_task(name="messaging.reconcile")
def reconcile() -> dict[str, int]:
    with distributed_lock("messaging.reconcile", ttl=120) as acquired:
        return messages_reconcile() if acquired else {}


@shared_task(name="messaging.prune_idempotency_keys")
def prune_idempotency_keys() -> int:
    return idempotency_keys_prune()


@shared_task(name="messaging.admission_refresh")
def admission_refresh() -> int:
    """Keep admission control's snapshot fresh, so no send request waits for it (returns the headroom)."""
    return admission_snapshot_refresh().headroom


@shared_task(name="messaging.redact_message_bodies")
def redact_message_bodies() -> int:
    """Erase bodies and recipients whose retention ran out (apps.messaging.retention), in bounded batches."""
    with distributed_lock("messaging.redact_message_bodies", ttl=600) as acquired:
        return run_in_batches(messages_redact_batch) if acquired else 0


@shared_task(name="messaging.prune_jobs")
def prune_jobs() -> int:
    """Delete old jobs of finished messages that nothing keeps (apps.messaging.retention), in bounded batches."""
    with distributed_lock("messaging.prune_jobs", ttl=600) as acquired:
        return run_in_batches(jobs_prune_batch) if acquired else 0
