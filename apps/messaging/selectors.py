"""Reads of messaging data for the send path and the admin."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from django.db import connections, router
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.core.compiled import CompiledSelect
from apps.core.crypto import blind_index
from apps.core.errors import NotFound
from apps.core.prepared import prepared_cursor
from apps.messaging.choices import JobStatus, RecipientBlockReason
from apps.messaging.errors import JobNotFound, VerificationCodeUnknown
from apps.messaging.filtering.engine import DomainSpec, TermSpec
from apps.messaging.models import BlockedRecipient, DomainRule, FilterTerm, Job, Message, OptOut, StopKeyword


def recipient_block_reason(phone: str, *, organization_id: int | None = None) -> str | None:
    """Why `phone` (E.164) may not be messaged: `recipient_opted_out`, `recipient_blocked`, or None."""
    return recipient_block_reasons([phone], organization_id=organization_id).get(phone)


def recipient_block_reasons(phones: Iterable[str], *, organization_id: int | None = None) -> dict[str, str]:
    """For each of `phones` (E.164) that may not be messaged by client `organization_id`, why: one query over both
    lists, however many phones (a bulk send checks its thousand recipients at once). Opt-outs from every client
    count, and those from this client (a STOP reply to one of its messages).

    An opt-out wins over a block: it is the person's own request, and the code a client can act on (stop sending
    to them).
    """
    # Both lists are encrypted at rest and looked up by each number's keyed hash.
    by_hash = {blind_index(phone): phone for phone in set(phones)}
    if not by_hash:
        return {}
    # Written as SQL: every single send runs this, and building the same UNION through the ORM cost about four
    # times as much as running it (~0.7 ms against ~0.15 ms on PostgreSQL). Both hash columns are unique, so indexed.
    # On PostgreSQL the hashes travel as one text, split into an array by the server, so the statement is the same
    # for one number or a bulk request's thousand: prepared once per connection (apps.core.prepared), and one
    # parameter to send instead of 2,000 — joined in C, where the driver would build an array parameter value by
    # value in Python. Hashes are hex (apps.core.crypto.blind_index): no comma in them.
    database = router.db_for_read(OptOut)
    connection = connections[database]
    quote = connection.ops.quote_name
    hashes = sorted(by_hash)
    if connection.vendor == "postgresql" and "" not in by_hash:  # bound on the server: the constants' type said
        match, values, reason = "= ANY(string_to_array(%s::text, ',')::varchar[])", [",".join(hashes)], "%s::varchar"
    elif connection.vendor == "postgresql":  # an empty number's empty hash: "" would split into no value at all
        match, values, reason = "= ANY(%s::varchar[])", [hashes], "%s::varchar"
    else:
        match, values, reason = f"IN ({', '.join(['%s'] * len(hashes))})", hashes, "%s"
    # Table names from the models; every value is a query parameter.
    opt_outs = (
        f"SELECT phone_hash, {reason} FROM {quote(OptOut._meta.db_table)} WHERE phone_hash {match}"  # noqa: S608
        " AND (organization_id IS NULL OR organization_id = %s)"
    )
    blocks = f"SELECT phone_hash, {reason} FROM {quote(BlockedRecipient._meta.db_table)} WHERE phone_hash {match}"  # noqa: S608
    sql = f"{opt_outs} UNION ALL {blocks}"
    params = [
        RecipientBlockReason.OPTED_OUT.value,
        *values,
        organization_id,
        RecipientBlockReason.BLOCKED.value,
        *values,
    ]
    with prepared_cursor(using=database) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    reasons: dict[str, str] = {}
    for phone_hash, reason in rows:
        phone = by_hash[phone_hash]
        if reasons.get(phone) != RecipientBlockReason.OPTED_OUT:
            reasons[phone] = reason
    return reasons


def recipient_guard(phone: str, *, organization_id: int) -> tuple[str, dict[str, object]]:
    """PostgreSQL: `recipient_block_reasons` for one number as a condition a single send's INSERT carries
    (apps.messaging.inserting): true when `phone` (E.164) may be messaged by client `organization_id` — on no
    opt-out list that applies to this client and not blocked. The row is then written only if the condition holds,
    in the statement that writes it: the check costs no round trip of its own (about 7 % of a send's CPU when it
    was a query before the INSERT), and no opt-out can slip in between the check and the row. A refused INSERT asks
    `recipient_block_reasons` why. (condition, its named parameters.)"""
    quote = connections[router.db_for_write(OptOut)].ops.quote_name
    condition = (
        f"NOT EXISTS (SELECT 1 FROM {quote(OptOut._meta.db_table)} WHERE phone_hash = %(recipient_hash)s::varchar"  # noqa: S608
        " AND (organization_id IS NULL OR organization_id = %(recipient_client)s::bigint))"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(BlockedRecipient._meta.db_table)}"
        " WHERE phone_hash = %(recipient_hash)s::varchar)"
    )
    return condition, {"recipient_hash": blind_index(phone), "recipient_client": organization_id}


def filter_terms_active() -> list[TermSpec]:
    rows = FilterTerm.objects.filter(active=True).values_list("term", "language", "category", "weight")
    return [
        TermSpec(term=term, language=language, category=category, weight=weight)
        for term, language, category, weight in rows
    ]


def domain_rules_active() -> list[DomainSpec]:
    rows = DomainRule.objects.filter(active=True).values_list("domain", "kind", "weight", "brand")
    return [DomainSpec(domain=domain, kind=kind, weight=weight, brand=brand) for domain, kind, weight, brand in rows]


def messages_of_client(
    *,
    organization: ClientOrganization,
    status: str | None = None,
    reference: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Message]:
    """A client's own messages, newest first (indexed on client and creation time)."""
    queryset = Message.objects.filter(organization=organization)
    if status:
        queryset = queryset.filter(status=status)
    if reference:
        queryset = queryset.filter(reference=reference)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset


def message_of_client(*, organization: ClientOrganization, message_id: int) -> Message:
    """One of the client's messages; another client's looks like it does not exist (404)."""
    message = Message.objects.filter(organization=organization, pk=message_id).first()
    if message is None:
        raise NotFound()
    return message


def jobs_offered_to(*, user: Any) -> list[Job]:
    """The jobs waiting for the signed-in provider's phone to acknowledge them (its pull, and every report's
    answer): one indexed query, built once per process on PostgreSQL (apps.core.compiled)."""
    return _OFFERED_TO.run(user.pk, timezone.now())


_OFFERED_TO = CompiledSelect(
    lambda user_id, now: (
        Job.objects.filter(provider__user_id=user_id, status=JobStatus.OFFERED, deadline__gt=now)
        .order_by("offered_at", "pk")
        .only("pk", "status", "offered_at", "accepted_at", "deadline")
    )
)


def jobs_unknown_of(*, user: Any) -> QuerySet[Job]:
    """The signed-in provider's jobs whose lease ended after it acknowledged them without a report: the phone is
    asked whether it sent each (it answers with a report). Listed until answered or final."""
    return (
        Job.objects.filter(provider__user=user, status=JobStatus.UNKNOWN)
        .order_by("accepted_at", "pk")
        .only("pk", "status", "offered_at", "accepted_at", "deadline")
    )


def jobs_readable(provider: Any) -> QuerySet[Job]:
    """The jobs a provider's phone may read, with their message: its own. `provider` is the condition naming the
    provider — `Q(provider__user=user)` for a signed-in phone (`GET /api/jobs/{id}`), `Q(provider_id=OuterRef(...))`
    for each device of a push batch's read (apps.delivery.sealed_push: a push carries a job's content only where
    this gives it)."""
    return Job.objects.select_related("message").filter(provider)


def job_of_provider(*, user: Any, job_id: int) -> Job:
    """One of the signed-in provider's own jobs, with its message; another provider's looks like it does not exist."""
    job = jobs_readable(Q(provider__user=user)).filter(pk=job_id).first()
    if job is None:
        raise JobNotFound()
    return job


def message_by_verification_code(code: str) -> Message:
    """The message an SMS recipient asks about, by the code appended to it (case-insensitive, spaces ignored).

    Any text is looked up the same way, one indexed query, well-formed or not: unknown and malformed codes cannot
    be told apart by the answer or its timing. Text longer than any code is cut (it still matches nothing)."""
    normalized = "".join(code.split()).upper()[:VERIFICATION_CODE_LOOKUP_MAX]
    message = Message.objects.select_related("organization").filter(verification_code=normalized).first()
    if message is None:
        raise VerificationCodeUnknown()
    return message


# Longer than any verification code (the column holds 12): a cut text still matches nothing.
VERIFICATION_CODE_LOOKUP_MAX = 32


@dataclass(frozen=True)
class VerifiedSms:
    """What the verification page may tell whoever holds a code: who sent the SMS, and when. Never the recipient or
    the text."""

    sender: str
    sent_at: datetime


def verified_sms(code: str) -> VerifiedSms | None:
    """The SMS that carries `code`, if PeerPower handed it to a phone; None for unknown or malformed codes, and for
    a message that never left (held, rejected, still queued, cancelled before a phone had it): nobody can have
    received that one, so confirming it would vouch for an SMS that does not exist."""
    try:
        message = message_by_verification_code(code)
    except VerificationCodeUnknown:
        return None
    left_at = message.sent_at or message.assigned_at
    if left_at is None:
        return None
    return VerifiedSms(sender=message.organization.name, sent_at=left_at)


def message_counts_by_day(
    *, organization_id: int, since: datetime, until: datetime, tz: tzinfo
) -> list[dict[str, Any]]:
    """A client's messages created in [since, until), per local day of `tz` and status: `{day, status, messages,
    segments}` rows from one GROUP BY query (for usage reports)."""
    return list(
        Message.objects.filter(organization_id=organization_id, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "status")
        .annotate(messages=Count("id"), segments=Sum("segments"))
        .order_by("day", "status")
    )


def job_delivered_of(message_id: int) -> Job | None:
    """The job that delivered a message (at most one), with its SIM and message: whom a delivery rewards."""
    return jobs_delivered_of([message_id]).get(message_id)


def jobs_delivered_of(message_ids: Collection[int]) -> dict[int, Job]:
    """The job that delivered each of the messages (by message id; at most one each), with its SIM, message and
    provider, in one query."""
    jobs = (
        Job.objects.select_related("sim", "message", "provider")
        .filter(message_id__in=list(message_ids), status=JobStatus.DELIVERED)
        .order_by("pk")
    )
    return {job.message_id: job for job in jobs}  # the newest wins, as `.order_by("-pk").first()` would pick


def segments_waiting_by_carrier() -> dict[str, int]:
    """Segments of queued and in-flight (assigned, sent) messages per recipient carrier: the demand dynamic pricing
    weighs against online capacity. One grouped query on the status index."""
    from django.db.models import Sum

    from apps.messaging.choices import MessageStatus

    waiting = (MessageStatus.QUEUED, MessageStatus.ASSIGNED, MessageStatus.SENT)
    rows = Message.objects.filter(status__in=waiting).values("carrier").annotate(segments=Sum("segments"))
    return {row["carrier"]: row["segments"] or 0 for row in rows}


def delivery_seconds_by_provider(*, provider_ids: Iterable[int], since: datetime) -> dict[int, float]:
    """Mean seconds from offer to delivery report of each provider's jobs delivered since `since` (the latency part
    of the provider score). One grouped query; providers with no delivery are absent."""
    from django.db.models import Avg, DurationField, ExpressionWrapper, F

    took = ExpressionWrapper(F("finished_at") - F("offered_at"), output_field=DurationField())
    rows = (
        Job.objects.filter(provider_id__in=list(provider_ids), status=JobStatus.DELIVERED, finished_at__gte=since)
        .values("provider_id")
        .annotate(mean=Avg(took))
    )
    return {row["provider_id"]: row["mean"].total_seconds() for row in rows if row["mean"] is not None}


def queue_by_priority() -> dict[str, dict[str, Any]]:
    """Queued messages per priority: how many, and when the oldest was submitted (the back office's queue figures).
    One grouped query on the status index; priorities with nothing queued are absent."""
    from django.db.models import Min

    from apps.messaging.choices import MessageStatus

    rows = (
        Message.objects.filter(status=MessageStatus.QUEUED)
        .values("priority")
        .annotate(messages=Count("id"), oldest=Min("created_at"))
        .order_by()
    )
    return {row["priority"]: {"messages": row["messages"], "oldest": row["oldest"]} for row in rows}


def messages_held_count() -> int:
    """Messages the content filter holds for staff review (the moderation queue's length)."""
    from apps.messaging.choices import MessageStatus

    return Message.objects.filter(status=MessageStatus.HELD).count()


def messages_reaching(*, field: str, since: datetime, until: datetime) -> QuerySet[Message]:
    """Messages whose moment `field` (created_at, sent_at, delivered_at or finished_at) falls in [since, until): what
    the back office's hourly figures are rebuilt from, grouped in the database. A full scan where no index covers the
    moment; for repairs only."""
    if field not in ("created_at", "sent_at", "delivered_at", "finished_at"):
        raise ValueError(f"not a moment of a message: {field}")
    return Message.objects.filter(**{f"{field}__gte": since, f"{field}__lt": until})


def client_stop_keywords(*, organization_id: int) -> list[str]:
    """The client's own stop keywords (apps.messaging.keywords)."""
    return list(StopKeyword.objects.filter(organization_id=organization_id).values_list("keyword", flat=True))


def job_replied_to(*, sim_id: int, sender: str, since: datetime) -> Job | None:
    """The latest job since `since` whose SMS went from SIM `sim_id` to `sender` (a reply from `sender` on that SIM
    answers it), with its message and client; None when that SIM sent nothing there."""
    return (
        Job.objects.filter(Q(sent_at__isnull=False) | Q(status=JobStatus.DELIVERED))
        .filter(sim_id=sim_id, message__to_hash=blind_index(sender), offered_at__gte=since)
        .select_related("message__organization")
        .order_by("-offered_at", "-pk")
        .first()
    )


def jobs_of_provider_recent(*, provider_id: int, limit: int = 20) -> list[Job]:
    """The provider's most recent jobs, newest offer first (one query on the provider's index), for its admin page."""
    return list(
        Job.objects.filter(provider_id=provider_id).select_related("sim").order_by("-offered_at", "-id")[:limit]
    )
