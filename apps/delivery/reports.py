"""Delivery reports from provider phones: validated, stored once, and applied to the job and message.

A report moves the job and (through the messaging state machine) the message: `sent`, `delivered`, or `failed` —
a retryable failure sends the message to another provider, a final one (invalid number) fails it. Only the lease
owner may report, and only while the lease is live: a report for an ended lease is stored and flagged `late` (the
message may have gone twice) but never overrides the new lease.

A job the phone acknowledged and whose lease ended without a report is `unknown` (messaging never hands it to
another phone): the phone's report still counts and says what happened — `sent` or `delivered` resolve it to the
truth, `failed` with `not_sent` (or any retryable code) sends the message to another provider. Such a report is
flagged `answered_unknown`.

Reports are signed with the device key behind the provider's DID (Ed25519, as for binding the DID) over
`report_signing_text(...)`, which includes the job's secret trace token. Unsigned reports are accepted only while
REPORTS_ALLOW_UNSIGNED is on (the rollout), and are flagged and counted.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from prometheus_client import Counter

from apps.accounts.did import verify_did_signature
from apps.accounts.errors import DidMalformed, DidSignatureInvalid
from apps.core.errors import DomainError, ValidationFailed
from apps.delivery.choices import RETRYABLE_SEND_ERRORS, ReportFlag, ReportStatus, SendError
from apps.delivery.fraud import fraud_check_report, outcome_record
from apps.delivery.models import DeliveryReport
from apps.messaging.choices import LIVE_JOB_STATUSES, JobStatus, MessageStatus
from apps.messaging.errors import JobNotFound
from apps.messaging.models import Job
from apps.messaging.services import job_end, job_sent
from apps.messaging.services.leases import message_requeue_or_dead_letter
from apps.messaging.state import message_transition
from apps.providers.services import provider_heard_from, sticky_sender_remember
from apps.providers.services.cooldown import sim_send_failed

REPORTS = Counter("peerpower_delivery_reports_total", "Delivery reports received by status.", ["status", "applied"])
REPORT_FLAGS = Counter("peerpower_delivery_report_flags_total", "Odd delivery reports by flag.", ["flag"])


class ReportSignatureInvalid(ValidationFailed):
    code = "report_signature_invalid"
    default_message = _("The report's signature does not match your DID key.")


class ReportSignatureRequired(ValidationFailed):
    code = "report_signature_required"
    default_message = _("Reports must be signed with your DID key.")


class OccurredInFuture(ValidationFailed):
    code = "occurred_at_in_future"
    default_message = _("occurred_at is in the future; check the phone's clock.")


class ErrorCodeRequired(ValidationFailed):
    code = "error_code_required"
    default_message = _("A failed report needs an error_code.")


@dataclass(frozen=True)
class ReportInput:
    job_id: int
    status: str
    occurred_at: datetime
    # The timestamp exactly as the phone sent it: that text, not a re-formatting of it, is what it signed.
    occurred_at_text: str
    error_code: str = ""
    parts: int | None = None
    signature: str = ""
    device_id: int | None = None  # the reporting phone's device id (from its registration), if it sends one


@dataclass(frozen=True)
class ReportResult:
    report: DeliveryReport
    duplicate: bool
    job_status: str
    message_status: str
    flags: list[str] = field(default_factory=list)


def report_signing_text(*, job_id: int, status: str, occurred_at_text: str, trace_token: str) -> str:
    """The exact text a phone signs for a report (UTF-8, Ed25519, base64 signature)."""
    return f"peerpower-report\n{job_id}\n{status}\n{occurred_at_text}\n{trace_token}"


def report_submit(*, user: Any, data: ReportInput) -> ReportResult:
    """Take one report from the signed-in provider. Idempotent per (job, status): a repeat returns the first.

    The signature is checked before anything else, the repeat short-cut included: a forged copy of a stored report
    is refused like any forged report, never answered with the stored one (which would tell a forger it counted)."""
    try:
        with transaction.atomic():
            job = _locked_job(user=user, data=data)
            flags = _check_signature(job=job, data=data, did=user.did)
            provider_heard_from(provider=job.provider)  # no query unless it was marked unresponsive
            if job.reported_id is not None:
                return _result(DeliveryReport.objects.get(pk=job.reported_id), job, duplicate=True)
            if data.status == ReportStatus.FAILED and not data.error_code:
                raise ErrorCodeRequired()
            if data.occurred_at > timezone.now() + timedelta(seconds=settings.REPORT_CLOCK_SKEW_SECONDS):
                raise OccurredInFuture(details={"occurred_at": data.occurred_at_text})
            report = _apply(job=job, data=data, flags=flags)
    except IntegrityError:
        # The same report arrived twice at once (a phone retrying over a flaky network): the first one counts.
        report = DeliveryReport.objects.select_related("job__message").get(job_id=data.job_id, status=data.status)
        return _result(report, report.job, duplicate=True)
    REPORTS.labels(status=report.status, applied=str(report.applied).lower()).inc()
    for flag in report.flags:
        REPORT_FLAGS.labels(flag=flag).inc()
    fraud_check_report(report=report, job=job, device_id=data.device_id)
    # The statuses are those this report left (a move of the message by someone else at the same instant, such as
    # the client cancelling it, is not reflected here).
    return _result(report, job, duplicate=False)


def _locked_job(*, user: Any, data: ReportInput) -> Job:
    """The reported job, locked, with what a report needs in one query: its message, organisation and provider, the
    id of a report already stored for this status (`reported_id`) and when the phone said it sent the SMS
    (`sent_occurred_at`). Another provider's job is not found.

    On PostgreSQL the report subqueries see the database as the statement started: a report committed while this
    waited for the lock is missed, and the unique (job, status) constraint turns the second one into a duplicate."""
    reports = DeliveryReport.objects.filter(job=OuterRef("pk"))
    job = (
        Job.objects.select_for_update(of=("self",))
        .select_related("message__organization", "provider")
        .annotate(
            reported_id=Subquery(reports.filter(status=data.status).values("pk")[:1]),
            sent_occurred_at=Subquery(reports.filter(status=ReportStatus.SENT).values("occurred_at")[:1]),
        )
        .filter(pk=data.job_id, provider__user=user)
        .first()
    )
    if job is None:
        raise JobNotFound()
    return job


def reports_submit_batch(*, user: Any, items: list[ReportInput]) -> list[ReportResult | DomainError]:
    """Reports a phone queued while offline: each is taken on its own (one bad report does not refuse the rest)."""
    results: list[ReportResult | DomainError] = []
    for item in items:
        try:
            results.append(report_submit(user=user, data=item))
        except DomainError as error:
            results.append(error)
    return results


def _check_signature(*, job: Job, data: ReportInput, did: str) -> list[str]:
    """Flags for the report's signature, or an error. `did` is the reporting provider's (the signed-in user's)."""
    text = report_signing_text(
        job_id=job.pk, status=data.status, occurred_at_text=data.occurred_at_text, trace_token=job.trace_token
    )
    return signature_check(did=did, text=text, signature=data.signature)


def signature_check(*, did: str, text: str, signature: str) -> list[str]:
    """What a phone's signature over `text` says: no flags (it verifies against the DID's key), `unsigned` (none,
    accepted while REPORTS_ALLOW_UNSIGNED is on), or an error. Reports and forwarded inbound SMS share it."""
    if not signature:
        if not settings.REPORTS_ALLOW_UNSIGNED:
            raise ReportSignatureRequired()
        return [ReportFlag.UNSIGNED]
    if not did:
        raise ReportSignatureInvalid(details={"reason": "no_did_bound"})
    try:
        verify_did_signature(did=did, message=text, signature=signature)
    except (DidSignatureInvalid, DidMalformed):
        raise ReportSignatureInvalid() from None
    return []


def _apply(*, job: Job, data: ReportInput, flags: list[str]) -> DeliveryReport:
    """Store the report and, if its lease is live, move the job and message. Runs in the caller's transaction, with
    the job locked."""
    report = DeliveryReport(
        job=job,
        provider_id=job.provider_id,
        status=data.status,
        error_code=data.error_code,
        occurred_at=data.occurred_at,
        parts=data.parts,
        signed=bool(data.signature),
        flags=list(flags),
    )
    # An unknown job waits for exactly this answer, past its deadline too until the sweep has made it final.
    live = (job.status in LIVE_JOB_STATUSES and job.deadline > timezone.now()) or job.status == JobStatus.UNKNOWN
    if not live:
        report.flags.append(ReportFlag.LATE)
        report.save()
        return report
    report.flags += _oddities(job=job, data=data)
    {
        ReportStatus.SENT: _apply_sent,
        ReportStatus.DELIVERED: _apply_delivered,
        ReportStatus.FAILED: _apply_failed,
    }[data.status](job, data)
    report.applied = True
    report.save()
    return report


def _oddities(*, job: Job, data: ReportInput) -> list[str]:
    flags = []
    if job.status == JobStatus.UNKNOWN:
        flags.append(ReportFlag.ANSWERED_UNKNOWN)
    if job.accepted_at is None:
        flags.append(ReportFlag.NO_ACK)
    if data.status == ReportStatus.DELIVERED:
        if (data.occurred_at - job.offered_at).total_seconds() < settings.REPORT_MIN_DELIVERY_SECONDS:
            flags.append(ReportFlag.FAST_DELIVERY)
        if job.sent_occurred_at is not None and data.occurred_at < job.sent_occurred_at:
            flags.append(ReportFlag.DELIVERED_BEFORE_SENT)
    return flags


def _apply_sent(job: Job, data: ReportInput) -> None:
    job_sent(job=job, occurred_at=data.occurred_at)


def _apply_delivered(job: Job, data: ReportInput) -> None:
    job_end(job=job, status=JobStatus.DELIVERED, reason="delivered", sms_sent=True)
    message = job.message
    if message.status in (MessageStatus.ASSIGNED, MessageStatus.SENT):
        fields = {"delivered_at": data.occurred_at}
        if message.sent_at is None:
            fields["sent_at"] = data.occurred_at
        message_transition(
            message=message,
            to=MessageStatus.DELIVERED,
            segments_sent=data.parts,
            cross_carrier=job.cross_carrier,
            **fields,
        )
    outcome_record(provider_id=job.provider_id, carrier=message.carrier, outcome="delivered", when=data.occurred_at)
    if not message.organization.is_system:
        # PeerPower's own messages never stick to a provider: a canary to an audit phone must be able to reach
        # any provider, or a dishonest one that once delivered there would never be audited again.
        sticky_sender_remember(
            client_ref=str(message.organization_id),
            recipient=message.to_hash,  # the keyed hash: routing hints keep no phone number
            provider_id=job.provider_id,
            sim_id=job.sim_id,
        )


def _apply_failed(job: Job, data: ReportInput) -> None:
    was_sent = job.status == JobStatus.SENT
    job_end(job=job, status=JobStatus.FAILED, reason=data.error_code, sms_sent=was_sent)
    sim_send_failed(sim_id=job.sim_id, error_code=data.error_code)  # a carrier block rests the SIM
    message = job.message
    if message.status not in (MessageStatus.ASSIGNED, MessageStatus.SENT):
        return
    if data.error_code in RETRYABLE_SEND_ERRORS:
        # This phone could not send it; another one may. Counts against the provider's success rate.
        outcome_record(provider_id=job.provider_id, carrier=message.carrier, outcome="failed", when=data.occurred_at)
        message_requeue_or_dead_letter(message=message, reason=f"provider_failed:{data.error_code}", now=timezone.now())
    else:
        # The recipient's side is the problem (e.g. invalid number): every phone would fail the same way.
        message_transition(message=message, to=MessageStatus.FAILED, reason=data.error_code or SendError.OTHER)


def _result(report: DeliveryReport, job: Job, *, duplicate: bool) -> ReportResult:
    return ReportResult(
        report=report,
        duplicate=duplicate,
        job_status=job.status,
        message_status=job.message.status,
        flags=list(report.flags),
    )
