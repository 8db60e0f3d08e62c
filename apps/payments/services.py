"""Top-ups through Baray: create the intent, settle it on Baray's word (never the webhook's), expire what was not paid.

Exactly once, however many webhooks arrive: a top-up is settled under its row lock (`select_for_update`; SQLite
serialises writers anyway), a settled one answers `replayed`, and the PPT are issued as the ledger transfer
`topup:<public_id>`, whose id the ledger applies once whatever happens above it. Baray is asked outside any
transaction, so no database lock is held across the network.
"""

import json
import logging
import re
import secrets
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.services import webhook_event_emit
from apps.payments.baray import BarayClient, BarayUnavailable, DecryptionFailed, Exchange, IntentStatus, webhook_key
from apps.payments.choices import (
    FIAT_SCALES,
    ExchangeKind,
    FiatCurrency,
    NotificationOutcome,
    TopUpMethod,
    TopUpStatus,
)
from apps.payments.errors import (
    AmountAboveMaximum,
    AmountBelowMinimum,
    AmountInvalid,
    AmountNotPositive,
    AmountTooPrecise,
    CurrencyUnsupported,
    ExchangeRateUnavailable,
    NotificationInvalid,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    RefundAlreadyProposed,
    TopUpNotRefundable,
)
from apps.payments.metrics import BARAY_WEBHOOKS, TOPUPS
from apps.payments.models import BarayExchange, ExchangeRate, TopUp
from apps.payments.receipts import receipt_issue
from apps.payments.representation import topup_output
from apps.payments.selectors import exchange_rate_current
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.selectors import adjustments_open_for, amount_decimal
from apps.tokens.services import (
    TransferSpec,
    account_open,
    adjustment_propose,
    platform_account,
    transfer_create,
)

logger = logging.getLogger(__name__)

PPT_SCALE = 6
# An amount sent as a string: digits, optionally a fraction (no exponent, no spaces). Numbers are taken as numbers.
AMOUNT_PATTERN = re.compile(r"^-?[0-9]{1,30}(\.[0-9]{1,30})?$")
# Baray's status words, and what each makes of a top-up.
BARAY_FINAL = {"success": TopUpStatus.SUCCEEDED, "failed": TopUpStatus.FAILED, "expired": TopUpStatus.EXPIRED}
# A top-up still `creating` this long after it was made lost its intent (a crash between the row and Baray's answer).
CREATING_GRACE = timedelta(minutes=5)
# The reconciliation asks Baray about a pending top-up at most this often (webhooks can be lost).
RECHECK_AFTER = timedelta(minutes=1)


# --- amounts ------------------------------------------------------------------------------------------------------


def topup_amount_parse(*, amount: Any, currency: str) -> int:
    """The client's amount (a decimal string or number, in whole units: "10.50" USD, 40000 KHR) in the currency's
    smallest unit, checked against the currency's precision and our bounds (TOPUP_MIN_* / TOPUP_MAX_*)."""
    if currency not in FiatCurrency.values:
        raise CurrencyUnsupported(details={"allowed": list(FiatCurrency.values)})
    if isinstance(amount, bool) or not isinstance(amount, str | int | float | Decimal):
        raise AmountInvalid()
    if isinstance(amount, str) and not AMOUNT_PATTERN.match(amount):
        raise AmountInvalid()
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise AmountInvalid() from None
    if not value.is_finite():
        raise AmountInvalid()
    if value <= 0:
        raise AmountNotPositive()
    scale = FIAT_SCALES[currency]
    with localcontext() as context:
        context.prec = 60
        minor = value.scaleb(scale)
        if minor != minor.to_integral_value():
            raise AmountTooPrecise(details={"decimal_places": scale})
        minor_units = int(minor)
    minimum, maximum = getattr(settings, f"TOPUP_MIN_{currency}"), getattr(settings, f"TOPUP_MAX_{currency}")
    limits = {
        "minimum": amount_decimal(minimum, scale),
        "maximum": amount_decimal(maximum, scale),
        "currency": currency,
    }
    if minor_units < minimum:
        raise AmountBelowMinimum(details=limits)
    if minor_units > maximum:
        raise AmountAboveMaximum(details=limits)
    return minor_units


def ppt_for(*, amount: int, currency: str, ppt_per_unit: Decimal) -> int:
    """PPT (10⁻⁶ units) bought by `amount` smallest units of `currency` at the rate, rounded down (never more PPT than
    paid for)."""
    with localcontext() as context:
        context.prec = 80
        ppt = Decimal(amount).scaleb(-FIAT_SCALES[currency]) * ppt_per_unit
        return int(ppt.scaleb(PPT_SCALE).to_integral_value(rounding=ROUND_FLOOR))


# --- creating a top-up ----------------------------------------------------------------------------------------------


def topup_create(
    *, organization: Any, amount: Any, currency: str, method: str = TopUpMethod.CHECKOUT, now: datetime | None = None
) -> TopUp:
    """Create a top-up and its Baray intent; the top-up as it then is (`pending`, with the checkout URL and, for ABA,
    the KHQR string and deeplink). Baray down or refusing: the top-up is stored `failed` and the error raised (503 or
    502), so nothing is left waiting for a payment that cannot come."""
    now = now or timezone.now()
    minor_units = topup_amount_parse(amount=amount, currency=currency)
    rate = exchange_rate_current(currency=currency, now=now)
    if rate is None:
        raise ExchangeRateUnavailable(details={"currency": currency})
    ppt_amount = ppt_for(amount=minor_units, currency=currency, ppt_per_unit=rate.ppt_per_unit)
    if ppt_amount <= 0:
        raise AmountBelowMinimum(details={"currency": currency})
    topup = TopUp.objects.create(
        public_id=f"top_{secrets.token_hex(12)}",
        organization=organization,
        currency=currency,
        amount=minor_units,
        ppt_amount=ppt_amount,
        rate=rate,
        ppt_per_unit=rate.ppt_per_unit,
        method=method,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=settings.TOPUP_EXPIRE_SECONDS),
    )
    try:
        exchange, created = BarayClient().create_intent(
            order_id=topup.public_id,
            amount=amount_decimal(minor_units, FIAT_SCALES[currency]),
            currency=currency,
            aba_khqr=method == TopUpMethod.ABA_KHQR,
            details={"description": f"PeerPower top-up {topup.public_id}", "organization": organization.pk},
        )
    except BarayUnavailable as error:
        exchange = error.args[0]
        _exchange_record(topup=topup, kind=ExchangeKind.CREATE_INTENT, exchange=exchange)
        refused = exchange.http_status is not None and 400 <= exchange.http_status < 500
        TopUp.objects.filter(pk=topup.pk, status=TopUpStatus.CREATING).update(
            status=TopUpStatus.FAILED, failure_reason=f"intent not created: {exchange.error}"[:200], updated_at=now
        )
        TOPUPS.labels(status=TopUpStatus.FAILED, currency=currency).inc()
        raise (PaymentProviderRefused() if refused else PaymentProviderUnavailable()) from None
    with transaction.atomic():
        _exchange_record(topup=topup, kind=ExchangeKind.CREATE_INTENT, exchange=exchange)
        TopUp.objects.filter(pk=topup.pk, status=TopUpStatus.CREATING).update(
            status=TopUpStatus.PENDING,
            intent_id=created.intent_id,
            checkout_url=created.checkout_url,
            khqr=created.khqr,
            deeplink=created.deeplink,
            updated_at=timezone.now(),
        )
        audit_record(action="payments.topup_create", target=topup, after={"amount": minor_units, "currency": currency})
    topup.refresh_from_db()
    return topup


# --- Baray's word -----------------------------------------------------------------------------------------------------


def baray_webhook_receive(*, body: bytes) -> str:
    """Baray's webhook: `{"encrypted_order_id": …}`, nothing else, no signature. Decrypted, looked up, and then the
    top-up's status is asked of Baray and applied. What became of it is recorded, logged and counted.

    Anything that names no top-up of ours (undecryptable, malformed, a forged or unknown id) raises one error,
    `NotificationInvalid`, whatever the reason; Baray unreachable raises `PaymentProviderUnavailable` (503: Baray
    sends it again). Everything else answers the outcome, and changes only what Baray's status justifies.
    """
    try:
        data = json.loads(body)
        encrypted = data["encrypted_order_id"]
        order_id = webhook_key().decrypt(encrypted)
        topup = TopUp.objects.filter(public_id=order_id).first()
        if topup is None:
            raise LookupError(order_id)
    except (ValueError, TypeError, KeyError, LookupError, DecryptionFailed):
        # Logged and counted, not stored: anyone can post here, and a flood must not grow a table.
        BARAY_WEBHOOKS.labels(outcome=NotificationOutcome.INVALID).inc()
        logger.warning("Baray webhook refused (%d bytes): not a notification for any top-up of ours", len(body))
        raise NotificationInvalid() from None
    if topup.status == TopUpStatus.SUCCEEDED:
        outcome = NotificationOutcome.REPLAYED
    else:
        outcome = topup_refresh(topup=topup)
    _notification_record(topup, outcome, {"encrypted_order_id": encrypted})
    if outcome == NotificationOutcome.PROVIDER_UNAVAILABLE:
        raise PaymentProviderUnavailable()
    return outcome


def topup_refresh(*, topup: TopUp, now: datetime | None = None) -> str:
    """Ask Baray for the top-up's status and apply it: paid with our amount → PPT issued; failed or expired → marked
    so; still pending → nothing (expired by us once past `expires_at`). A `NotificationOutcome`."""
    now = now or timezone.now()
    if not topup.intent_id:
        return NotificationOutcome.NOT_SETTLED
    try:
        exchange, status = BarayClient().intent_status(topup.intent_id)
    except BarayUnavailable as error:
        _exchange_record(topup=topup, kind=ExchangeKind.STATUS, exchange=error.args[0])
        logger.warning("Baray status of %s unavailable: %s", topup.public_id, error.args[0].error)
        return NotificationOutcome.PROVIDER_UNAVAILABLE
    _exchange_record(topup=topup, kind=ExchangeKind.STATUS, exchange=exchange)
    if not _matches(topup, status):
        logger.error(
            "Baray status of %s does not match: %s %s (order %s), ours %s %s",
            topup.public_id,
            status.amount,
            status.currency,
            status.order_id,
            amount_decimal(topup.amount, FIAT_SCALES[topup.currency]),
            topup.currency,
        )
        return NotificationOutcome.MISMATCH
    final = BARAY_FINAL.get(status.status)
    if final == TopUpStatus.SUCCEEDED:
        return _settle(topup.pk, now)
    if final is not None:
        return _close(topup.pk, final, f"Baray: {status.status}", now)
    if topup.expires_at <= now:
        return _close(topup.pk, TopUpStatus.EXPIRED, "not paid in time", now)
    TopUp.objects.filter(pk=topup.pk).update(updated_at=now)
    return NotificationOutcome.NOT_SETTLED


def _matches(topup: TopUp, status: IntentStatus) -> bool:
    try:
        amount = Decimal(status.amount)
    except InvalidOperation:
        return False
    return (
        status.currency == topup.currency
        and amount.is_finite()
        and amount == Decimal(topup.amount).scaleb(-FIAT_SCALES[topup.currency])
        and status.order_id in ("", topup.public_id)
    )


def _settle(topup_id: int, now: datetime) -> str:
    """Issue the top-up's PPT and its receipt and mark it succeeded, once. Takes the top-up's row lock (and the
    receipt counter's, last, just before commit: the counter is the one row all settlements share)."""
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().select_related("organization").get(pk=topup_id)
        if topup.status == TopUpStatus.SUCCEEDED:
            return NotificationOutcome.REPLAYED
        transfer = transfer_create(
            TransferSpec(
                id=f"topup:{topup.public_id}",
                amount=topup.ppt_amount,
                debit_account_id=platform_account(PlatformAccount.ISSUANCE).pk,
                credit_account_id=account_open(organization=topup.organization).pk,
                reason=Reason.TOP_UP,
                payment_ref=topup.public_id,
                memo=f"Baray {topup.intent_id}",
            ),
            now=now,
        )
        before = topup.status
        topup.status, topup.transfer_id, topup.settled_at, topup.updated_at = (
            TopUpStatus.SUCCEEDED,
            transfer.id,
            now,
            now,
        )
        topup.failure_reason = ""
        topup.save(update_fields=["status", "transfer_id", "settled_at", "updated_at", "failure_reason"])
        receipt_issue(topup=topup, now=now)
        audit_record(
            action="payments.topup_settle",
            target=topup,
            before={"status": before},
            after={"status": topup.status, "transfer": transfer.id, "ppt_amount": topup.ppt_amount},
        )
        webhook_event_emit(
            organization_id=topup.organization_id,
            event_type=WebhookEventType.PAYMENT_SUCCEEDED,
            data={"topup": topup_output(topup)},
        )
        transaction.on_commit(lambda: TOPUPS.labels(status=TopUpStatus.SUCCEEDED, currency=topup.currency).inc())
    return NotificationOutcome.SETTLED


def _close(topup_id: int, status: str, reason: str, now: datetime) -> str:
    """Mark a pending top-up failed or expired and tell the client (`payment.failed`), once."""
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status not in (TopUpStatus.PENDING, TopUpStatus.CREATING):
            return NotificationOutcome.REPLAYED
        before = topup.status
        topup.status, topup.failure_reason, topup.updated_at = status, reason[:200], now
        topup.save(update_fields=["status", "failure_reason", "updated_at"])
        audit_record(action="payments.topup_close", target=topup, before={"status": before}, after={"status": status})
        webhook_event_emit(
            organization_id=topup.organization_id,
            event_type=WebhookEventType.PAYMENT_FAILED,
            data={"topup": topup_output(topup)},
        )
        transaction.on_commit(lambda: TOPUPS.labels(status=status, currency=topup.currency).inc())
    return NotificationOutcome.SETTLED


def topups_reconcile(*, now: datetime | None = None, limit: int = 100) -> int:
    """Beat: ask Baray about pending top-ups not heard of for a while (a webhook can be lost), expire unpaid ones
    past their time, and fail those whose intent was never created. How many top-ups were looked at."""
    now = now or timezone.now()
    stale = TopUp.objects.filter(status=TopUpStatus.CREATING, created_at__lt=now - CREATING_GRACE)
    for topup_id in stale.values_list("pk", flat=True)[:limit]:
        _close(topup_id, TopUpStatus.FAILED, "intent not created", now)
    pending = TopUp.objects.filter(status=TopUpStatus.PENDING, updated_at__lt=now - RECHECK_AFTER).order_by(
        "updated_at"
    )[:limit]
    count = 0
    for topup in pending:
        topup_refresh(topup=topup, now=now)
        count += 1
    return count


# --- rates ----------------------------------------------------------------------------------------------------------


def exchange_rate_ensure(*, currency: str, ppt_per_unit: Decimal, note: str = "") -> ExchangeRate:
    """The rate in force for `currency`, or this one set from now when there is none (demo and simulated setups;
    staff set real rates in the back office). Audited when set."""
    now = timezone.now()
    current = exchange_rate_current(currency=currency, now=now)
    if current is not None:
        return current
    with transaction.atomic():
        rate = ExchangeRate.objects.create(currency=currency, ppt_per_unit=ppt_per_unit, valid_from=now, note=note)
        audit_record(action="payments.exchange_rate_set", target=rate, after={"ppt_per_unit": str(ppt_per_unit)})
    return rate


# --- refunds --------------------------------------------------------------------------------------------------------


def topup_refund_propose(*, actor: Any, topup: TopUp) -> Any:
    """Propose taking a paid top-up's PPT back from the client's account, as a ledger adjustment a second staff
    member must approve (maker–checker); the money itself goes back to the payer through Baray's console. Its memo
    names the top-up and its receipt, so one top-up is not refunded twice. Audited (by the ledger, and here)."""
    if topup.status != TopUpStatus.SUCCEEDED:
        raise TopUpNotRefundable(details={"status": topup.status})
    prefix = f"refund of top-up {topup.public_id}"
    if adjustments_open_for(memo_prefix=prefix).exists():
        raise RefundAlreadyProposed()
    receipt = getattr(topup, "receipt", None)
    memo = f"{prefix}" + (f" (receipt {receipt.number})" if receipt is not None else "")
    with transaction.atomic():
        adjustment = adjustment_propose(
            actor=actor, account=account_open(organization=topup.organization), amount=-topup.ppt_amount, memo=memo
        )
        audit_record(
            actor=actor, action="payments.topup_refund_propose", target=topup, after={"adjustment": adjustment.pk}
        )
    return adjustment


# --- records --------------------------------------------------------------------------------------------------------


def _exchange_record(*, topup: TopUp | None, kind: str, exchange: Exchange, outcome: str = "") -> BarayExchange:
    return BarayExchange.objects.create(
        topup=topup,
        kind=kind,
        outcome=outcome,
        method=exchange.method,
        url=exchange.url[:500],
        request_body=exchange.request_body,
        http_status=exchange.http_status,
        response_body=exchange.response_body,
        error=exchange.error[:500],
        duration_ms=exchange.duration_ms,
    )


def _notification_record(topup: TopUp, outcome: str, body: dict) -> None:
    BarayExchange.objects.create(
        topup=topup, kind=ExchangeKind.WEBHOOK, outcome=outcome, method="POST", request_body=body
    )
    BARAY_WEBHOOKS.labels(outcome=outcome).inc()
    log = logger.error if outcome == NotificationOutcome.MISMATCH else logger.info
    log("Baray webhook for %s: %s", topup.public_id, outcome)
