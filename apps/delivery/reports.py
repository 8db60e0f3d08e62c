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

from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Func, IntegerField, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from prometheus_client import Counter

from apps.accounts.did import verify_did_signature
from apps.accounts.errors import DidMalformed, DidSignatureInvalid
from apps.core.compiled import CompiledSelect, ids_in
from apps.core.errors import DomainError, ValidationFailed
from apps.core.inserting import rows_insert
from apps.delivery.choices import RETRYABLE_SEND_ERRORS, ReportFlag, ReportStatus, SendError, Unsettled
from apps.delivery.fraud import BURST_WINDOW, Outcome, fraud_check_reports, outcomes_record
from apps.delivery.models import DeliveryReport
from apps.delivery.settling import deliveries_settle_after_reports
from apps.messaging.choices import LIVE_JOB_STATUSES, JobStatus, MessageStatus
from apps.messaging.errors import JobNotFound
from apps.messaging.models import Job, Message
from apps.messaging.services import jobs_end, jobs_sent
from apps.messaging.services.leases import messages_requeue_or_dead_letter
from apps.messaging.state import Move, messages_transition_each
from apps.providers.services import provider_heard_from
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
    """Take one report from the signed-in provider: `reports_submit_batch` with one report, raising its error."""
    result = reports_submit_batch(user=user, items=[data])[0]
    if isinstance(result, DomainError):
        raise result
    return result


def reports_submit_batch(*, user: Any, items: list[ReportInput]) -> list[ReportResult | DomainError]:
    """Take a phone's reports, one result per report in order: the report's result, or the error that refused it
    (one bad report does not refuse the rest). Idempotent per (job, status): a repeat returns the first.

    Set-based: one locked query for the batch's jobs (in id order, the same in every request, so two batches cannot
    deadlock), one for the reports already stored for them (none when every job is still offered: `_stored_reports`),
    one INSERT for the new reports; the `sent` moves of all the batch's jobs in one UPDATE (with one more for their
    messages); its `delivered` and `failed` jobs ended in one UPDATE each (`jobs_end`), their messages moved in bulk
    (`messages_transition_each`: a failure's hold voided in one ledger batch, the subscribers told once: webhook events,
    the dashboard), a retryable failure's day stats and reputation in a statement or two each. What a delivery books —
    the client's hold captured, the provider's reward, the day's stats, reputation and sticky sender — is left to the
    settle step a moment later (`apps.delivery.settling`): the delivered report is stored `unsettled`, the settle task
    signalled after the commit. A job's reports apply in the order they came (its `sent` before its `delivered`), in
    rounds: each round holds at most one report per job, so the jobs of a round move together whatever their order in
    the batch. One `delivered` report of a priced message costs 9 statements on PostgreSQL, one fewer when it
    acknowledges the job too (pinned in `test_report_batches`, as is the settle step's batch; the request's round trips,
    BEGIN and COMMIT included, in `test_report_round_trips`): the fraud burst check's count is read by the jobs' lock,
    counted before the batch's reports are stored and then added to, rather than by a statement after the commit — a
    batch of the same phone committing meanwhile is not in it, as one committing just after a count after the commit
    would not be.

    The signature is checked before anything else, the repeat short-cut included: a forged copy of a stored report
    is refused like any forged report, never answered with the stored one (which would tell a forger it counted).
    If the batch cannot be applied as a whole (the same report arriving twice at once, from a phone retrying over a
    flaky network, or a report the state machine refuses), its reports are taken one by one instead."""
    if not items:
        return []
    try:
        with transaction.atomic():
            results, taken, recent_deliveries = _submit_locked(user=user, items=items)
    except (IntegrityError, DomainError) as error:
        if len(items) > 1:
            return [result for item in items for result in reports_submit_batch(user=user, items=[item])]
        if isinstance(error, DomainError):
            return [error]
        # The same report arrived twice at once: the first one counts (its signature was checked above).
        report = DeliveryReport.objects.select_related("job__message").get(
            job_id=items[0].job_id, status=items[0].status
        )
        return [_result(report, report.job, duplicate=True)]
    for pending in taken:
        REPORTS.labels(status=pending.report.status, applied=str(pending.report.applied).lower()).inc()
        for flag in pending.report.flags:
            REPORT_FLAGS.labels(flag=flag).inc()
    if any(pending.report.unsettled for pending in taken):
        deliveries_settle_after_reports()
    fraud_check_reports(
        checks=[(pending.report, pending.job, pending.item.device_id) for pending in taken],
        recent_deliveries=recent_deliveries,
    )
    return results


@dataclass
class _Pending:
    """A new report of the batch, on its way to being stored (with the job's and message's statuses it left)."""

    item: ReportInput
    job: Job
    report: DeliveryReport
    job_status: str = ""
    message_status: str = ""


def _submit_locked(
    *, user: Any, items: list[ReportInput]
) -> tuple[list[ReportResult | DomainError], list[_Pending], int]:
    """The batch's work inside its transaction: the results, the new reports stored, and the provider's `delivered`
    reports of the last BURST_WINDOW with the new ones (the burst check's count)."""
    jobs = _locked_jobs(user=user, job_ids={item.job_id for item in items})
    stored = {(report.job_id, report.status): report for report in _stored_reports(jobs)}
    sent_occurred = {job_id: report.occurred_at for (job_id, status), report in stored.items() if status == "sent"}
    results: list[ReportResult | DomainError | None] = [None] * len(items)
    rounds: list[list[_Pending]] = []
    new: dict[tuple[int, str], tuple[int, _Pending]] = {}
    repeats: list[tuple[int, _Pending]] = []
    per_job: Tally[int] = Tally()
    for index, item in enumerate(items):
        job = jobs.get(item.job_id)
        try:
            pending = _checked(item=item, job=job, did=user.did)
        except DomainError as error:
            results[index] = error
            continue
        key = (item.job_id, item.status)
        if key in stored:
            results[index] = _result(stored[key], job, duplicate=True)
        elif key in new:
            repeats.append((index, new[key][1]))
        else:
            new[key] = (index, pending)
            if per_job[job.pk] == len(rounds):
                rounds.append([])
            rounds[per_job[job.pk]].append(pending)
            per_job[job.pk] += 1
    if any(result is None or isinstance(result, ReportResult) for result in results):
        # A phone with a signed report is alive: one marked unresponsive (it let an offer end unacknowledged) is
        # offered work again. All the jobs are this phone's; no query unless it was marked.
        provider_heard_from(provider=next(iter(jobs.values())).provider)
    for pendings in rounds:
        _apply_round(pendings, sent_occurred=sent_occurred)
    taken = [pending for _, pending in new.values()]
    rows_insert(DeliveryReport, [pending.report for pending in taken])  # one prepared text (apps.core.inserting)
    for index, pending in new.values():
        results[index] = _pending_result(pending, duplicate=False)
    for index, pending in repeats:  # answered as a repeat of a stored report is: with the job as it is now
        results[index] = _result(pending.report, pending.job, duplicate=True)
    # Counted by the lock before this batch's reports were stored: what a count after the commit would find.
    recent = next((job.recent_deliveries or 0 for job in jobs.values()), 0)
    recent += sum(1 for pending in taken if pending.report.status == ReportStatus.DELIVERED)
    return results, taken, recent  # type: ignore[return-value]  # every index was filled


_STORED_REPORTS = CompiledSelect(lambda job_ids: DeliveryReport.objects.filter(ids_in("job_id", job_ids)))


def _stored_reports(jobs: dict[int, Job]) -> list[DeliveryReport]:
    """The reports already stored for the locked `jobs`, read for those that may have one: a job still offered
    and live has none, so a batch of such jobs — a phone that sent at once and reports without acknowledging, the
    usual report now — costs no statement here.

    Every report is stored by a transaction holding its job's lock: either applied, and then the job moved out of
    `offered` in that transaction, or flagged `late`, which needs the deadline passed — and an offered job's deadline
    never moves. A job read offered and live under this lock has no report. (A copy that a server whose clock runs
    ahead stored as late is still caught, by the reports' unique constraint: the batch is answered one by one, and
    that copy as a duplicate.)"""
    now = timezone.now()
    ids = [
        job.pk
        for job in jobs.values()
        if not (job.status == JobStatus.OFFERED and job.accepted_at is None and job.deadline > now)
    ]
    return _STORED_REPORTS.run(ids) if ids else []


def _locked_jobs(*, user: Any, job_ids: set[int]) -> dict[int, Job]:
    """The reported jobs of the signed-in provider, locked in id order (the same order in every request), with what
    a report needs: the message, its organisation, the provider, the SIM (a delivery's reward reads its carrier).
    Another provider's job is not among them.

    The messages are locked by the same statement: on PostgreSQL a row locked after waiting is read in its latest
    committed version, so a message that a report committed while this waited (same job, another status) is seen
    as that report left it; the joined rows not locked (organisation, provider, SIM) are not moved by reports. The
    message's UPDATE would lock it later in this transaction anyway: jobs before their messages, as every lease
    ending does.

    Each job carries `recent_deliveries`: the provider's `delivered` reports received in the last BURST_WINDOW,
    counted by the same statement (the burst check's figure, without a round trip after the commit of its own).

    The stored reports are read by a statement of their own after the lock is held: on PostgreSQL it sees a report
    committed while this waited for the lock, so a copy that arrived at the same moment is a duplicate (answered
    with the message's status as that report left it)."""
    since = timezone.now() - BURST_WINDOW
    return {job.pk: job for job in _LOCKED_JOBS.run(sorted(job_ids), user.pk, since)}


# Built once per process on PostgreSQL: the ORM's building of this five-table join was the largest piece of a
# report's CPU (apps.core.compiled).
_LOCKED_JOBS = CompiledSelect(
    lambda job_ids, user_id, since: (
        Job.objects.select_for_update(of=("self", "message"))
        .select_related("message__organization", "provider", "sim")
        .filter(ids_in("pk", job_ids), provider__user_id=user_id)
        .annotate(recent_deliveries=Subquery(_recent_deliveries(user_id, since), output_field=IntegerField()))
        .order_by("pk")
    )
)


def _recent_deliveries(user_id: int, since: datetime) -> QuerySet:
    """The provider's `delivered` reports received since `since`, counted (one row): the fraud burst check's count,
    read by the jobs' lock. Not correlated with the job rows: PostgreSQL counts once per statement (an InitPlan)."""
    return (
        DeliveryReport.objects.filter(provider__user_id=user_id, status=ReportStatus.DELIVERED, received_at__gte=since)
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count")
    )


def _checked(*, item: ReportInput, job: Job | None, did: str) -> _Pending:
    """What can be said of a report before anything moves: its job is this provider's, its signature verifies, it is
    complete and not from the future. Raises the refusal."""
    if job is None:
        raise JobNotFound()
    flags = _check_signature(job=job, data=item, did=did)
    if item.status == ReportStatus.FAILED and not item.error_code:
        raise ErrorCodeRequired()
    if item.occurred_at > timezone.now() + timedelta(seconds=settings.REPORT_CLOCK_SKEW_SECONDS):
        raise OccurredInFuture(details={"occurred_at": item.occurred_at_text})
    report = DeliveryReport(
        job=job,
        provider_id=job.provider_id,
        status=item.status,
        error_code=item.error_code,
        occurred_at=item.occurred_at,
        parts=item.parts,
        signed=bool(item.signature),
        flags=list(flags),
    )
    return _Pending(item=item, job=job, report=report)


def _pending_result(pending: _Pending, *, duplicate: bool) -> ReportResult:
    report = pending.report
    return ReportResult(
        report=report,
        duplicate=duplicate,
        job_status=pending.job_status,
        message_status=pending.message_status,
        flags=list(report.flags),
    )


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


def _apply_round(pendings: list[_Pending], *, sent_occurred: dict[int, datetime]) -> None:
    """Apply one round of the batch (at most one report per job; the jobs locked): a report whose lease is live moves
    its job and message — all the `sent` ones together — and one for an ended lease is kept, flagged `late`."""
    now = timezone.now()
    applied = []
    for pending in pendings:
        job, report = pending.job, pending.report
        # An unknown job waits for exactly this answer, past its deadline too until the sweep has made it final.
        live = (job.status in LIVE_JOB_STATUSES and job.deadline > now) or job.status == JobStatus.UNKNOWN
        if not live:
            report.flags.append(ReportFlag.LATE)
            continue
        report.flags += _oddities(job=job, data=pending.item, sent_occurred_at=sent_occurred.get(job.pk))
        report.applied = True
        applied.append(pending)
    sent = [pending for pending in applied if pending.item.status == ReportStatus.SENT]
    if sent:
        jobs_sent(jobs=[pending.job for pending in sent], sent_at={p.job.pk: p.item.occurred_at for p in sent})
        for pending in sent:
            sent_occurred.setdefault(pending.job.pk, pending.item.occurred_at)
    outcomes: dict[int, Outcome] = {}  # by report (`id` of its _Pending): a retryable failure's
    _apply_delivered([p for p in applied if p.item.status == ReportStatus.DELIVERED])
    _apply_failed([p for p in applied if p.item.status == ReportStatus.FAILED], outcomes=outcomes)
    # The reputation takes them in the order the reports came (each of its steps rounds).
    outcomes_record(outcomes=[outcomes[id(pending)] for pending in applied if id(pending) in outcomes])
    for pending in pendings:
        pending.job_status, pending.message_status = pending.job.status, pending.job.message.status


def _oddities(*, job: Job, data: ReportInput, sent_occurred_at: datetime | None) -> list[str]:
    flags = []
    if job.status == JobStatus.UNKNOWN:
        flags.append(ReportFlag.ANSWERED_UNKNOWN)
    if job.accepted_at is None:
        # Offered and not acknowledged: the report is the acknowledgement (a phone that sent at once).
        flags.append(ReportFlag.ACK_FOLDED)
    if data.status == ReportStatus.DELIVERED:
        if (data.occurred_at - job.offered_at).total_seconds() < settings.REPORT_MIN_DELIVERY_SECONDS:
            flags.append(ReportFlag.FAST_DELIVERY)
        if sent_occurred_at is not None and data.occurred_at < sent_occurred_at:
            flags.append(ReportFlag.DELIVERED_BEFORE_SENT)
    return flags


def _apply_delivered(pendings: list[_Pending]) -> None:
    """The round's applied `delivered` reports, together: their jobs end in one move, their messages still assigned
    or sent are delivered in one more (the charge computed and stored, the client told; the hold's capture and the
    reward left to the settle step), and each report is marked for the settle step: `delivery` when it delivered its
    message, `outcome` when not (the day's stats, reputation and sticky sender only)."""
    if not pendings:
        return
    now = timezone.now()
    # A delivery receipt implies the SMS went: a phone that has both reports `delivered` alone (and one that sent
    # at once acknowledges the job with it).
    jobs_end(
        jobs=[pending.job for pending in pendings],
        status=JobStatus.DELIVERED,
        reasons={pending.job.pk: "delivered" for pending in pendings},
        sms_sent={pending.job.pk: True for pending in pendings},
        fields={
            "sent_at": {p.job.pk: p.job.sent_at or p.item.occurred_at for p in pendings},
            "accepted_at": {p.job.pk: p.job.accepted_at or now for p in pendings},
        },
    )
    moves = []
    for pending in pendings:
        job, data = pending.job, pending.item
        if job.message.status in (MessageStatus.ASSIGNED, MessageStatus.SENT):
            fields = {"delivered_at": data.occurred_at}
            if job.message.sent_at is None:
                fields["sent_at"] = data.occurred_at
            moves.append(
                Move(
                    message=job.message,
                    fields=fields,
                    segments_sent=data.parts,
                    cross_carrier=job.cross_carrier,
                    delivering_job=job,  # locked and loaded: the subscribers need not read it again
                    settle_later=True,
                )
            )
    moved = {message.pk for message in messages_transition_each(moves=moves, to=MessageStatus.DELIVERED)}
    for pending in pendings:
        # Stored by the batch's one INSERT: marking costs no statement.
        pending.report.unsettled = Unsettled.DELIVERY if pending.job.message_id in moved else Unsettled.OUTCOME


def _apply_failed(pendings: list[_Pending], *, outcomes: dict[int, Outcome]) -> None:
    """The round's applied `failed` reports, together: their jobs end in one move; a retryable failure sends its
    message to another provider, a final one (the recipient's side: every phone would fail the same way) fails it."""
    if not pendings:
        return
    jobs_end(
        jobs=[pending.job for pending in pendings],
        status=JobStatus.FAILED,
        reasons={pending.job.pk: pending.item.error_code for pending in pendings},
        sms_sent={pending.job.pk: pending.job.status == JobStatus.SENT for pending in pendings},
    )
    retry: list[tuple[Message, str]] = []
    final: list[Move] = []
    for pending in pendings:
        job, data = pending.job, pending.item
        sim_send_failed(sim_id=job.sim_id, error_code=data.error_code)  # a carrier block rests the SIM
        message = job.message
        if message.status not in (MessageStatus.ASSIGNED, MessageStatus.SENT):
            continue
        if data.error_code in RETRYABLE_SEND_ERRORS:
            # This phone could not send it; another one may. Counts against the provider's success rate.
            outcomes[id(pending)] = Outcome(
                provider_id=job.provider_id, carrier=message.carrier, outcome="failed", when=data.occurred_at
            )
            retry.append((message, f"provider_failed:{data.error_code}"))
        else:
            final.append(Move(message=message, reason=data.error_code or SendError.OTHER))
    messages_requeue_or_dead_letter(messages=retry, now=timezone.now())
    messages_transition_each(moves=final, to=MessageStatus.FAILED)


def _result(report: DeliveryReport, job: Job, *, duplicate: bool) -> ReportResult:
    return ReportResult(
        report=report,
        duplicate=duplicate,
        job_status=job.status,
        message_status=job.message.status,
        flags=list(report.flags),
    )
