"""Push channel tasks: thin, idempotent, taking ids."""

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.delivery.canaries import canaries_judge, canaries_send
from apps.delivery.fraud import fraud_scan
from apps.delivery.services import job_push, jobs_ack_timeouts, push_retry_delay


@shared_task(name="delivery.push_job")
def push_job(job_id: int, retry: int = 0) -> str:
    outcome = job_push(job_id=job_id, retry=retry)
    if outcome == "retry":
        push_job.apply_async(args=[job_id, retry + 1], queue="high", countdown=push_retry_delay(retry))
    return outcome


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
