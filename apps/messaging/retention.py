"""Retention of messaging's personal data (docs/privacy.md has the whole matrix).

- A message's body and recipient are erased a client-chosen number of days after the message reached a final state
  (`ClientOrganization.message_body_retention_days`, else MESSAGE_BODY_RETENTION_DAYS; 0: at the next run). The
  row stays — it is what the client was charged for — with the recipient's keyed hash (`to_hash`), so a number's
  history can still be found by someone who has the number, and nobody can read it off the row.
- Jobs (leases, with their push records) of finished messages are deleted after JOB_RETENTION_DAYS, except those a
  higher app keeps: a job a provider was rewarded for is a financial record (kept 10 years with the ledger). Such
  apps register a keeper (`job_keeper_register`) instead of being imported here.

Each run works in bounded batches (RETENTION_BATCH_SIZE rows, at most RETENTION_MAX_BATCHES), each batch a short
transaction, so it never holds long locks and the next run resumes where this one stopped.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.core.events import publish
from apps.messaging.choices import LIVE_JOB_STATUSES, MessageStatus
from apps.messaging.models import Job, Message

FINAL_STATUSES = (
    MessageStatus.DELIVERED,
    MessageStatus.REJECTED,
    MessageStatus.CANCELLED,
    MessageStatus.FAILED,
    MessageStatus.EXPIRED,
)

JobKeeper = Callable[[OuterRef], QuerySet]
_job_keepers: list[JobKeeper] = []


@dataclass(frozen=True)
class MessagesRedacted:
    """Published in the transaction that erased these messages' bodies and recipients, so apps that copied them
    (webhook event payloads) erase their copies too."""

    message_ids: tuple[int, ...]


def job_keeper_register(keeper: JobKeeper) -> None:
    """`keeper(OuterRef("pk"))` is a queryset that is non-empty for a job that must be kept (NOT EXISTS in SQL)."""
    if keeper not in _job_keepers:
        _job_keepers.append(keeper)


def _redaction_due(now: datetime) -> Q:
    """Messages whose organisation's retention has run out: one condition per retention period in use."""
    default = settings.MESSAGE_BODY_RETENTION_DAYS
    due = Q(organization__message_body_retention_days__isnull=True, finished_at__lte=now - timedelta(days=default))
    periods = (
        ClientOrganization.objects.filter(message_body_retention_days__isnull=False)
        .values_list("message_body_retention_days", flat=True)
        .distinct()
    )
    for days in periods:
        due |= Q(organization__message_body_retention_days=days, finished_at__lte=now - timedelta(days=days))
    return due


def messages_redact_batch(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Erase the body and recipient of up to `batch_size` messages whose retention ran out. Returns how many."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    ids = list(
        Message.objects.filter(redacted_at__isnull=True, finished_at__isnull=False, status__in=FINAL_STATUSES)
        .filter(_redaction_due(now))
        .order_by("finished_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not ids:
        return 0
    with transaction.atomic():
        # The status is checked again: a message staff requeued since the read keeps its body.
        erased = Message.objects.filter(pk__in=ids, redacted_at__isnull=True, status__in=FINAL_STATUSES)
        redacted = list(erased.values_list("pk", flat=True))
        Message.objects.filter(pk__in=redacted).update(body="", to="", redacted_at=now)
        publish(MessagesRedacted(message_ids=tuple(redacted)))
    return len(redacted)


def jobs_prune_batch(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete up to `batch_size` ended jobs (with their delivery reports) older than JOB_RETENTION_DAYS that no
    keeper holds. Returns how many jobs were deleted."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    jobs = Job.objects.filter(finished_at__lt=now - timedelta(days=settings.JOB_RETENTION_DAYS)).exclude(
        status__in=LIVE_JOB_STATUSES
    )
    for keeper in _job_keepers:
        jobs = jobs.exclude(Exists(keeper(OuterRef("pk"))))
    ids = list(jobs.order_by("pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return 0
    with transaction.atomic():
        Job.objects.filter(pk__in=ids).delete()
    return len(ids)


def run_in_batches(batch: Callable[..., int], *, now: datetime | None = None) -> int:
    """Call `batch` until it finds nothing more or RETENTION_MAX_BATCHES ran; returns the rows it handled."""
    total = 0
    for _ in range(settings.RETENTION_MAX_BATCHES):
        done = batch(now=now)
        total += done
        if done < settings.RETENTION_BATCH_SIZE:
            break
    return total
