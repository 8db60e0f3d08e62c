"""Push channel tasks: thin, idempotent, taking ids."""

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.delivery.canaries import canaries_judge, canaries_send
from apps.delivery.fraud import fraud_scan
from apps.delivery.retention import delivery_reports_prune_batch
from apps.delivery.services import jobs_ack_timeouts, jobs_push, push_retry_delay
from apps.delivery.settling import SWEEP_AFTER_SECONDS, deliveries_settle_due, settle_task_started
from apps.messaging.retention import run_in_batches


@shared_task(name="delivery.push_jobs")
def push_jobs(job_ids: list[int], retry: int = 0) -> dict[str, int]:
    """Push new jobs (a dispatch batch's); those that met a transient failure are retried together, with backoff."""
    outcomes = jobs_push(job_ids=job_ids, retry=retry)
    again = [job_id for job_id, outcome in outcomes.items() if outcome == "retry"]
    if again:
        push_jobs.apply_async(args=[again, retry + 1], queue="high", countdown=push_retry_delay(retry))
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(name="delivery.ack_timeouts")
def ack_timeouts() -> dict[str, int]:
    with distributed_lock("delivery.ack_timeouts", ttl=60) as acquired:
        return jobs_ack_timeouts() if acquired else {}


@shared_task(name="delivery.fraud_scan")
def fraud_scan_task() -> dict[str, int]:
    with distributed_lock("delivery.fraud_scan", ttl=600) as acquired:
        return fraud_scan() if acquired else {}


@shared_task(name="delivery.canaries_send")
def canaries_send_task() -> int:
    with distributed_lock("delivery.canaries_send", ttl=300) as acquired:
        return canaries_send() if acquired else 0


@shared_task(name="delivery.canaries_judge")
def canaries_judge_task() -> dict[str, int]:
    with distributed_lock("delivery.canaries_judge", ttl=120) as acquired:
        return canaries_judge() if acquired else {}


@shared_task(name="delivery.prune_reports")
def prune_reports() -> int:
    """Delete delivery reports past their retention (apps.delivery.retention), in bounded batches."""
    with distributed_lock("delivery.prune_reports", ttl=600) as acquired:
        return run_in_batches(delivery_reports_prune_batch) if acquired else 0


@shared_task(name="delivery.settle")
def settle_due() -> int:
    """Settle the deliveries reported since the signal (apps.delivery.settling): every unsettled report, in batches."""
    settle_task_started()
    return deliveries_settle_due()


@shared_task(name="delivery.settle_sweep")
def settle_sweep() -> int:
    """The beat's sweep: what a lost signal or task left unsettled (reports older than a signalled task would be)."""
    return deliveries_settle_due(received_before_seconds=SWEEP_AFTER_SECONDS)
