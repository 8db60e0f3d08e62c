"""Messaging tasks: thin wrappers that take ids and call services. All safe to run twice."""

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.messaging.idempotency import idempotency_keys_prune
from apps.messaging.services import jobs_expire_overdue, message_dispatch, messages_reconcile


@shared_task(name="messaging.dispatch_messages")
def dispatch_messages(message_ids: list[int]) -> dict[str, int]:
    """Match each message to a provider (or schedule its next try). The queue was chosen by priority."""
    outcomes: dict[str, int] = {}
    for message_id in message_ids:
        outcome = message_dispatch(message_id=message_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


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
