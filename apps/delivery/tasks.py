"""Push channel tasks: thin, idempotent, taking ids."""

from celery import shared_task

from apps.core.locks import distributed_lock
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
