"""Accepting messages from clients: validate, filter, store, and signal the dispatcher after commit.

The row is committed before anything is queued; a lost signal is recovered by the reconciler (see dispatch).
"""

import secrets
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import ApiKey, ClientOrganization
from apps.accounts.phone import Phone, normalize_phone
from apps.core.addresses import webhook_url_check
from apps.core.counters import Count, counter_give_back, counters_distinct_add
from apps.core.errors import DomainError, FieldErrors
from apps.core.events import publish
from apps.core.local_cache import VersionCheck
from apps.core.ratelimit import rate_window
from apps.messaging.charging import charges_book, charges_quote
from apps.messaging.choices import FilterAction, MessageStatus, Priority, RecipientBlockReason
from apps.messaging.errors import (
    ClientBlocked,
    DailyQuotaExceeded,
    InsufficientBalance,
    MessageNotCancellable,
    Overloaded,
    ScheduleInvalid,
)
from apps.messaging.events import MessagesAccepted
from apps.messaging.filtering.engine import FilterDecision
from apps.messaging.filtering.runtime import check_content
from apps.messaging.idempotency import key_pending, key_remember, key_taken
from apps.messaging.inserting import Guard, GuardRefused, message_unsaved, messages_insert
from apps.messaging.models import Message
from apps.messaging.pumping import (
    pumping_held,
    pumping_held_count,
    pumping_hold,
    pumping_numbers,
    pumping_window_seconds,
)
from apps.messaging.routes import message_route, message_route_apply
from apps.messaging.selectors import recipient_block_reasons, recipient_guard
from apps.messaging.services.admission import admission_claim
from apps.messaging.services.leases import job_end_for_message
from apps.messaging.services.signal import dispatch_mark, dispatch_marked, enqueue_dispatch, signal_clock
from apps.messaging.state import message_transition
from apps.messaging.validation import CheckedBody, refuse_blocked, validate_body
from apps.messaging.vetting import (
    day_window,
    key_rate_per_day,
    key_rate_per_second,
    organization_limits,
    sandbox_refuse_recipient,
)
from apps.providers.carriers import carrier_from_phonenumbers
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal

PPT_SCALE = LEDGER_SCALES[LedgerCode.PPT]

# Small clock differences between a client and us must not turn "send now" into an error.
SCHEDULE_SKEW = timedelta(seconds=60)
# In signalling order. `Priority.values` builds its list afresh on every read (Django's enum property): ~20 µs a send.
PRIORITIES = tuple(Priority.values)


@dataclass(frozen=True)
class MessageInput:
    to: str
    body: str
    priority: str = Priority.NORMAL
    reference: str = ""
    callback_url: str = ""
    scheduled_at: datetime | None = None
    validity_seconds: int | None = None
    sensitive: bool = False  # travels the trusted pool only, body sealed, at a higher price (apps.messaging.routes)


@dataclass(frozen=True)
class BulkItemResult:
    index: int
    message: Message | None = None
    error: DomainError | None = None


def message_submit(
    *,
    organization: ClientOrganization,
    api_key: ApiKey | None,
    data: MessageInput,
    trusted: bool = False,
    credential_check: VersionCheck | None = None,
) -> Message:
    """Accept one message. Raises a coded error for anything wrong with it; a message the content filter refuses
    is stored as `rejected` (so staff can review false positives) and returned.

    `trusted` is for PeerPower's own messages (OTP codes): no client limits and no content filter.
    `credential_check`: the API key as this process held it, still to be verified against its shared version — in the
    round trip that counts the client's limits, before anything is written (`VersionStale` when it fails).
    """
    try:
        phone = normalize_phone(data.to)
    except DomainError:
        phone = None  # _prepare reports it, with whatever else is wrong with the message
    sizes: list[int | None] = []
    if not trusted:
        sizes = _check_client(
            organization=organization,
            api_key=api_key,
            count=1,
            priority=data.priority,
            numbers=[phone.e164] if phone else [],
            checks=[credential_check] if credential_check is not None else (),
            # A message due now: its dispatch signal asks in the same round trip (apps.messaging.services.signal).
            mark=dispatch_mark(priority=data.priority) if data.scheduled_at is None else None,
        )
    # On PostgreSQL the recipient's opt-outs and blocks are checked by the INSERT itself (`recipient_guard`), not by
    # a query of their own before it.
    guard = recipient_guard(phone.e164, organization_id=organization.pk) if phone and _guards_insert() else None

    def prepare(block_reasons: dict[str, str]) -> Message:
        return _prepare(
            organization=organization,
            api_key=api_key,
            data=data,
            block_reasons=block_reasons,
            trusted=trusted,
            phone=phone,
        )

    if guard is None:
        message = prepare(recipient_block_reasons([phone.e164], organization_id=organization.pk) if phone else {})
    else:
        try:
            message = prepare({})
        except DomainError:
            # Refused for something else: the answer also names a blocked recipient, first, as when the lists were
            # read before the message was checked (an error path: the look-up costs nothing on the accepted one).
            prepare(recipient_block_reasons([phone.e164], organization_id=organization.pk))
            raise
    refused = _store(
        [message], pumping_sizes={id(message): sizes[0]} if sizes and sizes[0] is not None else None, guard=guard
    )
    if refused:
        raise refused[0]
    return message


def _guards_insert() -> bool:
    return transaction.get_connection().vendor == "postgresql"


def message_submit_bulk(
    *, organization: ClientOrganization, api_key: ApiKey | None, items: Sequence[MessageInput]
) -> list[BulkItemResult]:
    """Accept many messages at once: each item succeeds or fails on its own (partial success).

    Recipients' opt-outs and blocks are checked in one query, and the accepted messages stored in one insert.
    """
    # A bulk request draws on high priority's reserved share only if every message in it is high priority.
    priority = Priority.HIGH if items and all(item.priority == Priority.HIGH for item in items) else Priority.NORMAL
    # Each number normalised once: the limits' round trip (the pumping sets), the opt-out look-up and the rows all
    # take it from here.
    phones: list[Phone | None] = []
    for item in items:
        try:
            phones.append(normalize_phone(item.to))
        except DomainError:
            phones.append(None)  # _prepare reports it, with whatever else is wrong with the item
    numbered = [index for index, phone in enumerate(phones) if phone is not None]
    sizes = _check_client(
        organization=organization,
        api_key=api_key,
        count=len(items),
        priority=priority,
        numbers=[phones[index].e164 for index in numbered],
    )
    size_at = {index: size for index, size in zip(numbered, sizes, strict=True) if size is not None}
    block_reasons = recipient_block_reasons(
        [phone.e164 for phone in phones if phone is not None], organization_id=organization.pk
    )
    results: list[BulkItemResult] = []
    prepared: list[Message] = []
    pumping_sizes: dict[int, int] = {}  # by id(message): the pumping set sizes counted with the limits
    bodies = BodyChecks()  # a body sent to many recipients is checked once
    for index, item in enumerate(items):
        try:
            message = _prepare(
                organization=organization,
                api_key=api_key,
                data=item,
                block_reasons=block_reasons,
                phone=phones[index],
                bodies=bodies,
            )
        except DomainError as error:
            results.append(BulkItemResult(index=index, error=error))
            continue
        prepared.append(message)
        if index in size_at:
            pumping_sizes[id(message)] = size_at[index]
        results.append(BulkItemResult(index=index, message=message))
    refused = _store(prepared, pumping_sizes=pumping_sizes)
    if refused:
        by_message = {id(prepared[position]): error for position, error in refused.items()}
        results = [
            BulkItemResult(index=result.index, error=by_message[id(result.message)])
            if id(result.message) in by_message
            else result
            for result in results
        ]
    return results


class BodyChecks:
    """What one request's checks found for each distinct body — its segments and encoding, the content filter's
    verdict, its route — so a body sent to a thousand recipients is checked once, not a thousand times (the filter
    alone costs ~25 µs a message). All three depend on the text only. A refused body is checked again each time (its
    error is raised afresh for each message)."""

    def __init__(self) -> None:
        self._checked: dict[str, CheckedBody] = {}
        self._decisions: dict[str, FilterDecision] = {}
        self._routes: dict[str, str] = {}
        # The request's first row, built through the relation descriptors: the rows after it copy what they set
        # (`message_unsaved(like=…)`).
        self.first_row: Message | None = None

    def validate(self, body: str) -> CheckedBody:
        checked = self._checked.get(body)
        if checked is None:
            checked = self._checked[body] = validate_body(body)
        return checked

    def check_content(self, text: str) -> FilterDecision:
        decision = self._decisions.get(text)
        if decision is None:
            decision = self._decisions[text] = check_content(text)
        return decision

    def route(self, *, sensitive: bool, text: str) -> str:
        if sensitive:
            return message_route(sensitive=True, text=text)
        route = self._routes.get(text)
        if route is None:
            route = self._routes[text] = message_route(sensitive=False, text=text)
        return route


def _check_client(
    *,
    organization: ClientOrganization,
    api_key: ApiKey | None,
    count: int,
    priority: str = Priority.NORMAL,
    numbers: Sequence[str] = (),
    checks: Sequence[VersionCheck] = (),
    mark: Count | None = None,
) -> list[int | None]:
    """A blocked client cannot send; an API key has a per-second request rate and a daily message quota, its
    organisation a daily total and, while sandboxed, a small daily cap (apps.messaging.vetting); and the network
    admits no more than it can carry (admission control, `overloaded`).

    All are counted in one round trip to the shared cache, with the pumping sets of the recipients' `numbers`
    (apps.messaging.pumping); returns each number's set size (None: not counted), for `_store`. A refused request
    gives back what it counted, so only accepted requests use up the quota and the network's headroom. `checks`:
    versions verified first in that round trip (`VersionStale`, nothing counted, when one is out of date). `mark`:
    the dispatch signal's early mark (`dispatch_mark`), counted last in the same round trip.
    """
    if organization.is_blocked:
        raise ClientBlocked(details={"reason": organization.blocked_reason} if organization.blocked_reason else None)
    admission = admission_claim(organization_id=organization.pk, count=count, priority=priority)
    admission_counts = admission.counts() if admission else []
    counts = admission_counts
    limits = organization_limits(organization=organization, count=count, trusted=False)
    if limits is not None:
        counts = [*limits.counts(), *counts]
    if api_key is not None:
        rate = rate_window(group="messages.second", key=str(api_key.pk), rate=f"{key_rate_per_second(api_key)}/s")
        quota = day_window(key=f"messages:quota:{api_key.pk}", limit=key_rate_per_day(api_key))
        counts = [rate.count(), quota.count(count), *counts]
    pairs = pumping_numbers(organization, numbers, now=timezone.now()) if numbers else []
    asked = signal_clock()
    values, set_sizes = counters_distinct_add(
        [*counts, mark] if mark else counts,
        [pair for pair in pairs if pair is not None],
        timeout=pumping_window_seconds(),
        checks=checks,
    )
    if mark:
        dispatch_marked(priority=priority, asked=asked, count=values.pop())
    counted_sizes = iter(set_sizes)
    sizes = [None if pair is None else next(counted_sizes) for pair in pairs]
    key_values = values[:2] if api_key is not None else []
    limit_values = values[len(key_values) : len(key_values) + len(limits.windows)] if limits is not None else []

    def give_back(*, to_admission: bool) -> None:
        if api_key is not None:
            counter_give_back(quota.key, count)
        if limits is not None:
            limits.give_back()
        if admission and to_admission:
            admission.give_back()

    if api_key is not None:
        hits, used = key_values
        if hits > rate.limit or used > quota.limit:
            give_back(to_admission=True)
            rate.refuse_over(hits)
            # Given back, so a client can retry with a smaller batch.
            raise DailyQuotaExceeded(retry_after=quota.seconds_left)
    if limits is not None:
        try:
            limits.check(limit_values)
        except DomainError:
            give_back(to_admission=True)
            raise
    if admission:
        try:
            admission.check(*values[-len(admission_counts) :])
        except Overloaded:
            give_back(to_admission=False)
            raise
    return sizes


def _prepare(
    *,
    organization: ClientOrganization,
    api_key: ApiKey | None,
    data: MessageInput,
    block_reasons: dict[str, str],
    trusted: bool = False,
    phone: Phone | None = None,
    bodies: BodyChecks | None = None,
) -> Message:
    """Validate one message and build its (unsaved) row, status decided by the content filter. `phone` is
    `data.to` already normalised, when the caller has it; `bodies`, the request's checks of its bodies so far. Every
    field is checked: one wrong field raises its own error, several raise one listing each
    (apps.core.errors.FieldErrors)."""
    if bodies is None:
        bodies = BodyChecks()
    errors = FieldErrors()
    if data.callback_url:
        # The webhook SSRF guard (scheme, https, literal private addresses), without DNS on the send path; the
        # webhook sender resolves and checks the host again before every request.
        with errors.field("callback_url"):
            webhook_url_check(data.callback_url, resolve=False)
    with errors.field("to"):
        if phone is None:
            phone = normalize_phone(data.to)
        refuse_blocked(phone.e164, block_reasons.get(phone.e164))
        if not trusted:
            sandbox_refuse_recipient(organization=organization, phone=phone.e164)
    with errors.field("body"):
        checked = bodies.validate(data.body)
    now = timezone.now()
    validity = data.validity_seconds or settings.MESSAGE_VALIDITY_DEFAULT_SECONDS
    with errors.field("validity_seconds"):
        if not 1 <= validity <= settings.MESSAGE_VALIDITY_MAX_SECONDS:
            raise ScheduleInvalid(code="validity_invalid", details={"max": settings.MESSAGE_VALIDITY_MAX_SECONDS})
    scheduled_at = data.scheduled_at
    with errors.field("scheduled_at"):
        if scheduled_at is not None and (scheduled_at < now - SCHEDULE_SKEW or scheduled_at > now + timedelta(days=30)):
            raise ScheduleInvalid(details={"scheduled_at": scheduled_at.isoformat()})
    errors.raise_if_any()
    filtered_text = checked.body  # the client's own words; the appended code is ours
    verification_code = None
    if organization.verification_codes and not trusted:
        verification_code = new_verification_code()
        checked = validate_body(
            checked.body + settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", verification_code)
        )
    if scheduled_at is not None:
        scheduled_at = max(scheduled_at, now)
    due = scheduled_at or now

    status, reason, score, reasons = MessageStatus.QUEUED, "", 0, []
    if not trusted:
        decision = bodies.check_content(filtered_text)
        score, reasons = decision.score, [r.as_dict() for r in decision.reasons]
        if decision.action == FilterAction.REJECT:
            status, reason = MessageStatus.REJECTED, "content_rejected"
        elif decision.action == FilterAction.HOLD:
            status, reason = MessageStatus.HELD, "content_review"
    message = message_unsaved(
        like=bodies.first_row,
        organization=organization,
        api_key=api_key,
        to=phone.e164,
        carrier=carrier_from_phonenumbers(phone.carrier),
        body=checked.body,
        encoding=checked.encoding,
        segments=checked.segments,
        priority=data.priority,
        reference=data.reference,
        callback_url=data.callback_url,
        status=status,
        status_reason=reason,
        filter_score=score,
        filter_reasons=reasons,
        verification_code=verification_code,
        created_at=now,
        scheduled_at=scheduled_at,
        expires_at=due + timedelta(seconds=validity),
        next_attempt_at=due if status == MessageStatus.QUEUED else None,
        finished_at=now if status == MessageStatus.REJECTED else None,
        route=bodies.route(sensitive=data.sensitive, text="" if trusted else filtered_text),
    )
    message_route_apply(message)
    if bodies.first_row is None:
        bodies.first_row = message
    return message


def new_verification_code() -> str:
    """8 characters without look-alikes (no 0/O, 1/I/L): easy to read off a phone, 32^8 possibilities."""
    return "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(8))


VERIFICATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _store(
    messages: list[Message], *, pumping_sizes: dict[int, int] | None = None, guard: Guard | None = None
) -> dict[int, DomainError]:
    """Quote, hold and insert the messages (apps.messaging.charging) and signal the dispatcher. Returns the
    messages refused for want of PPT, by position (402 `insufficient_balance`, with the shortfall); those are not
    stored. The holds of the accepted ones are booked in the transaction that inserts them. `guard` (one message):
    its recipient's check, carried by its INSERT (`recipient_guard`); a listed recipient raises its coded error."""
    if not messages:
        return {}
    now = timezone.now()
    organization = messages[0].organization
    pumping_hold(messages, now=now, sizes=pumping_sizes)
    if not organization.is_system:  # PeerPower's own messages (OTP codes, canaries) are not charged
        charges_quote(messages, now=now)
    billable = any(message.price_held for message in messages)
    # One message outside any transaction needs none of its own: its INSERT commits by itself (autocommit), and the
    # dispatch signal registered after it runs at once, after the row is committed, as on_commit promises. That
    # saves the BEGIN and COMMIT round trips on the single-send path. A hold must commit with its row: on
    # PostgreSQL one statement inserts both (apps.messaging.charging), elsewhere a transaction holds them.
    connection = transaction.get_connection()
    single = (
        len(messages) == 1 and (not billable or connection.vendor == "postgresql") and not connection.in_atomic_block
    )
    # A send with an Idempotency-Key stores the key's row with its message (apps.messaging.idempotency): the one
    # statement that inserts the message writes it — the held send's, or the free send's guarded INSERT (PostgreSQL);
    # any other single send takes a transaction that inserts it too: unguarded, or a message the content filter
    # rejected, whose answer (422) does not name the message's id at the top for the statement to fill in.
    if single and not billable and key_pending() and (guard is None or messages[0].status == MessageStatus.REJECTED):
        single = False
    with nullcontext() if single else transaction.atomic():
        shortfalls = charges_book(
            messages,
            organization_id=organization.pk,
            threshold=organization.low_balance_threshold,
            insert=_insert,
            guard=guard,
        )
        refused: dict[int, DomainError] = {
            position: InsufficientBalance(
                details={"shortfall": shortfall, "shortfall_ppt": amount_decimal(shortfall, PPT_SCALE)}
            )
            for position, shortfall in shortfalls.items()
        }
        messages = [message for position, message in enumerate(messages) if position not in refused]
        if not messages:
            return refused
        key_remember(messages[0])  # when not written with the message's statement
        publish(MessagesAccepted(messages=messages))
        if held := pumping_held(messages):
            transaction.on_commit(partial(pumping_held_count, held))
        queued = [m for m in messages if m.status == MessageStatus.QUEUED]
        for priority in PRIORITIES:
            if any(m.priority == priority and m.next_attempt_at <= now for m in queued):
                enqueue_dispatch(priority=priority)
        for message in queued:
            if message.next_attempt_at > now:
                delay = (message.next_attempt_at - now).total_seconds()
                enqueue_dispatch(priority=message.priority, countdown=delay)
    return refused


def _insert(
    messages: list[Message],
    tries: int = 3,
    write: Callable[[list[Message]], None] | None = None,
    guard: Guard | None = None,
) -> None:
    """Insert the rows (or have `write` insert them, with their hold); a verification code that is already taken
    (one chance in about 10^12) gets a new one. `guard`: the recipient's check the one row's INSERT carries; refused,
    the recipient's coded error is raised (`recipient_opted_out`, `recipient_blocked`).

    Only rows with a verification code can be retried, so only they pay for a savepoint (inside a transaction) to
    retry from; in autocommit a failed INSERT leaves nothing to roll back.
    """
    coded = [message for message in messages if message.verification_code]
    savepoint = bool(coded) and transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if savepoint else nullcontext():
            if write is not None:
                write(messages)
            else:
                messages_insert(messages, guard=guard)
    except GuardRefused:
        message = messages[0]
        reason = recipient_block_reasons([message.to], organization_id=message.organization_id).get(message.to)
        if reason is None and tries > 1:
            _insert(messages, tries - 1, write, guard)  # listed when the INSERT ran, no longer: insert it now
            return
        refuse_blocked(message.to, reason or RecipientBlockReason.BLOCKED)
    except IntegrityError as error:
        if not coded or tries <= 1 or key_taken(error):  # a key's retry is answered by its first request
            raise
        for message in coded:
            suffix = settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", message.verification_code)
            message.verification_code = new_verification_code()
            fresh = settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", message.verification_code)
            message.body = message.body.removesuffix(suffix) + fresh
        _insert(messages, tries - 1, write, guard)


def message_cancel(*, message: Message, actor: Any = None) -> Message:
    """Cancel a message that has not been sent yet (held, queued, or assigned but not reported sent)."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.status not in (MessageStatus.HELD, MessageStatus.QUEUED, MessageStatus.ASSIGNED):
            raise MessageNotCancellable(details={"status": message.status})
        if message.status == MessageStatus.ASSIGNED:
            job_end_for_message(message=message, reason="cancelled")
        message_transition(
            message=message,
            to=MessageStatus.CANCELLED,
            reason="cancelled_by_client",
            actor=actor,
            system_actor="client",
            audit=True,
        )
    return message


def message_moderate(*, message: Message, approve: bool, actor: Any, note: str = "") -> Message:
    """Staff decision on a held message: approve (it is queued and dispatched) or reject (the client sees
    `rejected`, reason `content_rejected_by_staff`). `note`: the staff member's reason, kept in the audit log."""
    if approve:
        to, reason, fields = MessageStatus.QUEUED, "approved", {"next_attempt_at": timezone.now()}
    else:
        to, reason, fields = MessageStatus.REJECTED, "content_rejected_by_staff", {}
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        moved = message_transition(
            message=message, to=to, reason=reason, actor=actor, audit=True, audit_note=note, **fields
        )
        if moved and approve:
            enqueue_dispatch(priority=message.priority)
    return message
