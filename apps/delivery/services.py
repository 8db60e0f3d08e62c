"""The push channel for jobs: offering a job to its phone, re-pushing when it is not acknowledged, giving it to
another provider when the phone cannot be reached, and waking up providers whose heartbeat is late.

Pushes happen outside transactions (they are slow and cannot be rolled back). Whatever a push does, the phone can
always find its offered jobs by polling (`GET /api/providers/me/jobs`), so no job depends on push alone.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.core.backoff import backoff_with_jitter
from apps.core.compiled import CompiledSelect, ids_in
from apps.delivery.push import PushOutcome, PushRequest, PushResult, push_send_many
from apps.delivery.sealed_push import CONTENT_FIELDS, pushes_sealed, readable_by_device
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.messaging.services import job_release_and_rematch, jobs_push_record
from apps.providers.models import Device
from apps.providers.services import device_remove

logger = logging.getLogger("peerpower.push")

# Jobs re-pushed or released per run of the acknowledgement sweep.
SWEEP_BATCH = 500


# The task whose batches a small push is folded into (see `job_offer_push_later`).
DISPATCH_TASK_NAME = "messaging.dispatch_due"


def job_offer_push_later(job_ids: list[int]) -> None:
    """MESSAGING_JOB_OFFER_HOOK: push a dispatch batch's new jobs, all in one task of the high-priority queue (so
    dispatch goes on while FCM answers) — or, for a batch of at most PUSH_INLINE_MAX_JOBS jobs dispatched by the
    dispatch task, at once in that task. At a light load most batches hold one or two messages, and a task of their
    own (published, taken and acknowledged by a worker, traced) cost the workers more CPU than the push; the
    dispatch task waits for FCM's answer instead, which a large batch (a burst) does not. Never in a web process."""
    from celery import current_task

    from apps.delivery.tasks import push_jobs

    inline = len(job_ids) <= settings.PUSH_INLINE_MAX_JOBS
    if (
        inline and getattr(current_task, "name", None) == DISPATCH_TASK_NAME
    ):  # the proxy's attribute: None outside a task
        push_jobs(list(job_ids))  # the task's body, run here: its retries still go to the queue with backoff
        return
    push_jobs.apply_async(args=[list(job_ids)], queue="high")


def jobs_push(*, job_ids: list[int], retry: int = 0) -> dict[int, str]:
    """Push offered jobs to their providers' phones, all in one `push_send_many` (FCM: concurrently, on the process's
    send pool), and act on each job's outcome:

    - sent: recorded on the job (the acknowledgement sweep re-pushes once if no ack comes);
    - dead token (uninstalled app, rotated token): the device is forgotten; with no device left the job goes to
      another provider at once;
    - transient error (quota, unavailable): the caller retries with backoff up to PUSH_MAX_RETRIES, then the job
      goes to another provider;
    - anything else: the job goes to another provider.
    Returns each job's "sent", "retry", "released" or "skipped" (the job is no longer offered, its lease is over,
    or the phone has no device and must poll). A push to a device with a seal key carries the job's content sealed
    to it (apps.delivery.sealed_push). Queries: one read (the jobs with their devices and content, `_PUSH_ROWS`), one
    UPDATE for the jobs whose pushes all went out (one more per job with a failure).
    """
    now = timezone.now()
    outcomes = dict.fromkeys(job_ids, "skipped")
    pushes, _ = _pushes_of(job_ids)
    pushes = [push for push in pushes if int((push[0].deadline - now).total_seconds()) > 0]  # else the lease sweep
    ttl = {job.pk: int((job.deadline - now).total_seconds()) for job, _, _ in pushes}
    outcomes.update(_push_and_act(pushes, ttl=ttl, retry=retry, now=now))
    return outcomes


# A push batch's one read, built once per process on PostgreSQL (apps.core.compiled; building it through the ORM cost
# about as much of the task's CPU as running it): the jobs still offered, a row for each device of each job's
# provider (a row without one where the provider has none), with the columns of the job and its message that a
# sealed payload reads, and whether that device's phone may read the job (`readable_by_device`, the selector's rule).
# It replaces three reads — the jobs, their devices, the keyed devices' content — each a round trip and a statement.
_PUSH_ROWS = CompiledSelect(
    lambda job_ids: (
        Job.objects.select_related("message")
        .filter(ids_in("pk", job_ids), status=JobStatus.OFFERED)
        .annotate(
            device_pk=F("provider__devices__pk"),
            device_provider_id=F("provider__devices__provider_id"),
            device_fcm_token=F("provider__devices__fcm_token"),
            device_seal_key=F("provider__devices__seal_key"),
        )
        .annotate(readable=readable_by_device("device_provider_id"))
        .only(*CONTENT_FIELDS)
        .order_by("pk", "device_pk")
    )
)
# The device's columns a push and a dead token's removal read, in the model's order (`Model.from_db`).
_DEVICE_FIELDS = ["id", "provider_id", "fcm_token", "seal_key"]


def _pushes_of(job_ids: list[int]) -> tuple[list[tuple[Job, Device, bool]], list[Job]]:
    """The batch's jobs still offered, as (job, device, readable) for each device of each job's provider, and the
    jobs whose provider has no device. One query (`_PUSH_ROWS`)."""
    pushes: list[tuple[Job, Device, bool]] = []
    deviceless: list[Job] = []
    devices: dict[int, Device] = {}
    for row in _PUSH_ROWS.run(list(job_ids)):
        if row.device_pk is None:
            deviceless.append(row)
            continue
        device = devices.get(row.device_pk)
        if device is None:
            values = (row.device_pk, row.device_provider_id, row.device_fcm_token, row.device_seal_key)
            device = devices[row.device_pk] = Device.from_db(row._state.db, _DEVICE_FIELDS, values)
        pushes.append((row, device, bool(row.readable)))
    return pushes, deviceless


def _push_and_act(
    pushes: list[tuple[Job, Device, bool]], *, ttl: dict[int, int], retry: int, now: datetime
) -> dict[int, str]:
    data = [{"job": str(job.pk), "kind": "job"} for job, _, _ in pushes]
    pushes_sealed(pushes, data)  # the content, sealed to each keyed phone that may read it
    requests = [
        PushRequest(token=device.fcm_token, data=job_data, ttl_seconds=ttl[job.pk])
        for (job, device, _), job_data in zip(pushes, data, strict=True)
    ]
    results = push_send_many(requests=requests)
    by_job: dict[int, tuple[Job, list[Device], list[PushResult]]] = {}
    for (job, device, _), result in zip(pushes, results, strict=True):
        _, devices, job_results = by_job.setdefault(job.pk, (job, [], []))
        devices.append(device)
        job_results.append(result)
    all_sent = [job_id for job_id, (_, _, rs) in by_job.items() if all(r.outcome == PushOutcome.SENT for r in rs)]
    if all_sent:
        jobs_push_record(job_ids=all_sent, at=now, error="")
    outcomes = dict.fromkeys(all_sent, "sent")
    for job_id, (job, devices, job_results) in by_job.items():
        if job_id not in outcomes:
            _record_push(job, job_results)
            outcomes[job_id] = _act_on(job, devices, job_results, retry=retry)
    return outcomes


def _record_push(job: Job, results: list[PushResult]) -> None:
    failed = next((result.error_code or result.outcome.value for result in results if result.outcome != "sent"), "")
    jobs_push_record(job_ids=[job.pk], at=timezone.now(), error=failed)


def _act_on(job: Job, devices: list[Device], results: list[PushResult], *, retry: int) -> str:
    outcomes = {result.outcome for result in results}
    for device, result in zip(devices, results, strict=True):
        if result.outcome == PushOutcome.TOKEN_DEAD:
            device_remove(device=device, system_actor="push")
    if PushOutcome.SENT in outcomes:
        return "sent"
    if PushOutcome.RETRYABLE in outcomes and retry < settings.PUSH_MAX_RETRIES:
        return "retry"
    reason = "push_token_dead" if outcomes == {PushOutcome.TOKEN_DEAD} else "push_failed"
    job_release_and_rematch(job_id=job.pk, reason=reason)
    return "released"


def push_retry_delay(retry: int) -> float:
    """Seconds before retry number `retry` + 1 of a transient push failure: exponential, with jitter."""
    return backoff_with_jitter(base=settings.PUSH_RETRY_BASE_SECONDS, exponent=retry, jitter=0.25)


def jobs_ack_timeouts(*, now: datetime | None = None) -> dict[str, int]:
    """Offered jobs not acknowledged within JOB_ACK_SECONDS of their last push: re-push once (in one batch for
    all of them), then give the job to another provider."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_ACK_SECONDS)
    overdue = list(
        Job.objects.filter(status=JobStatus.OFFERED, deadline__gt=now, offered_at__lte=cutoff)
        .exclude(last_pushed_at__gt=cutoff)
        .order_by("offered_at")[:SWEEP_BATCH]
    )
    counts = {"repushed": 0, "released": 0}
    to_repush = []
    for job in overdue:
        if job.push_attempts >= 2:
            if job_release_and_rematch(job_id=job.pk, reason="no_ack"):
                counts["released"] += 1
        else:
            to_repush.append(job)
    if to_repush:
        counts["repushed"] = _repush(to_repush, now=now)
    return counts


def _repush(jobs: list[Job], *, now: datetime) -> int:
    pushes, deviceless = _pushes_of([job.pk for job in jobs])  # those still offered, as a push batch reads them
    if deviceless:
        # No device to push to: count the attempt so the next sweep hands the job to someone else.
        jobs_push_record(job_ids=[job.pk for job in deviceless], at=now)
    ttl = {job.pk: max(int((job.deadline - now).total_seconds()), 1) for job, _, _ in pushes}
    # A re-push is the last try: transient failures are not retried again.
    return len(_push_and_act(pushes, ttl=ttl, retry=settings.PUSH_MAX_RETRIES, now=now))


def providers_wake_up(provider_ids: list[int]) -> None:
    """PROVIDER_WAKE_UP_HOOK: a data push that makes the app send a heartbeat (providers whose heartbeat is late).
    Dead tokens are forgotten, as for job pushes."""
    devices = list(Device.objects.filter(provider_id__in=provider_ids))
    requests = [PushRequest(token=device.fcm_token, data={"kind": "wake"}, ttl_seconds=300) for device in devices]
    for device, result in zip(devices, push_send_many(requests=requests), strict=True):
        if result.outcome == PushOutcome.TOKEN_DEAD:
            device_remove(device=device, system_actor="push")
