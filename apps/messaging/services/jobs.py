"""The phone's side of a lease: acknowledging an offered job, and giving a job back when its phone cannot be
reached (the push channel decides that; this module does the bookkeeping)."""

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.errors import JobNotFound, LeaseExpired
from apps.messaging.models import Job
from apps.messaging.services.dispatch import job_end, message_requeue_or_dead_letter


def job_accept(*, job_id: int, user: Any) -> Job:
    """The phone acknowledges an offered job (and so has received it). Safe to repeat: acknowledging an accepted
    job returns it again. Another provider's job is "not found"; a job whose lease ended is a conflict."""
    result = jobs_accept(job_ids=[job_id], user=user)[0]
    if isinstance(result, DomainError):
        raise result
    return result


def jobs_accept(*, job_ids: Sequence[int], user: Any) -> list[Job | DomainError]:
    """Acknowledge several offered jobs at once (a phone that received a burst of pushes): one result per id, in
    order — the job, or the error `job_accept` would raise for it. One transaction and one update for them all."""
    now = timezone.now()
    with transaction.atomic():
        jobs = {
            job.pk: job
            for job in Job.objects.select_for_update(of=("self",))
            .select_related("message")
            .filter(pk__in=set(job_ids), provider__user=user)
            .order_by("pk")  # the same lock order in every request
        }
        offered = [job for job in jobs.values() if job.status == JobStatus.OFFERED and job.deadline > now]
        if offered:
            Job.objects.filter(pk__in=[job.pk for job in offered], status=JobStatus.OFFERED).update(
                status=JobStatus.ACCEPTED, accepted_at=now
            )
            for job in offered:
                job.status, job.accepted_at = JobStatus.ACCEPTED, now
    results: list[Job | DomainError] = []
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job is None:
            results.append(JobNotFound())
        elif job.status not in (JobStatus.ACCEPTED, JobStatus.SENT) or job.deadline <= now:
            results.append(LeaseExpired(details={"status": job.status}))
        else:
            results.append(job)
    return results


def job_release_and_rematch(*, job_id: int, reason: str) -> bool:
    """Take an offered job back from a phone that cannot be reached (dead token, failed pushes, no acknowledgement)
    and give the message to another provider. False if the job was no longer offered (the phone acknowledged in
    the meantime, or the lease ended anyway)."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("message").filter(pk=job_id).first()
        if job is None or job.status != JobStatus.OFFERED:
            return False
        if not job_end(job=job, status=JobStatus.EXPIRED, reason=reason, sms_sent=False):
            return False
        if job.message.status == MessageStatus.ASSIGNED:
            message_requeue_or_dead_letter(message=job.message, reason=reason, now=now)
    return True
