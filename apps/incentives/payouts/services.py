"""Payout writes. How a payout moves and why it is never paid twice:

1. `payout_request` checks the request (method, minimum, destination, rate, today's limit) under a lock on the
   provider's row (so two requests cannot both fit under the daily limit), then books the ledger's pending transfer
   `payout:<public_id>` from the provider's account to payouts-in-flight. The ledger refuses it when it is more than
   the account's *available* balance (posted credits minus posted and pending debits: pending earnings never
   count), and then nothing at all is kept. Above PAYOUT_APPROVAL_ABOVE it waits for a staff member.
2. `payout_send` claims the payout queued → sending with a conditional update (one caller wins), and makes the one
   outside call, carrying `public_id` as our idempotency key. Success posts the transfer, a definite failure voids
   it, anything else (timeout, reset, 5xx, in progress) leaves it `pending` with the reason.
3. `payout_check` (beat: `payouts_check_pending`; a callback from the outside API triggers it too, never trusted by
   itself) asks the status of a pending payout, or of one stuck in `sending` (its sender died), and applies the
   answer. Applying takes the payout's row lock and does nothing to a final payout, and the ledger's post and
   void ids are fixed, so a status check racing a callback ends in one outcome.

A wallet payout (`method: wallet`) is the tokens app's withdrawal to the provider's bound EVM address, booked through
`apps.tokens.services.withdrawal_request` with the reference `payout:<public_id>`. The withdrawal's own pending
transfer (owner → chain treasury) is its one ledger booking: the payout books no `payout:` transfer of its own, so
its PPT can never be held or spent twice, and the settlement posts or voids that transfer once the chain is final.
The same minimum, daily limits and approval apply as to the other methods (the withdrawal's minimum and 24-hour
limit besides); below the approval amount the withdrawal is booked with the request, above it when a staff member
approves (nothing is held while they decide; the balance is checked at the request and again by the ledger on
approval). The payout is `pending` from the booking until the withdrawal is `settled` (→ succeeded) or `failed`
(→ failed, the PPT back in the wallet): `payouts_check_pending` reads the withdrawal's state, no outside call.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from apps.accounts.errors import WalletNotBound
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.core.errors import ValidationFailed
from apps.incentives.models import Payout, PayoutAccount, PayoutRate
from apps.incentives.payouts import errors
from apps.incentives.payouts.choices import (
    COUNTED_STATUSES,
    CURRENCY_SCALES,
    FINAL_STATUSES,
    WALLET_CURRENCY,
    PayoutCurrency,
    PayoutMethod,
    PayoutStatus,
)
from apps.incentives.payouts.clients import AirtimeClient, Outcome, PaywayClient, decimal_amount
from apps.providers.errors import ProviderNotActive
from apps.providers.models import Provider, Sim
from apps.tokens.choices import PlatformAccount, Reason, Result, WithdrawalState
from apps.tokens.errors import WithdrawalExceedsBalance
from apps.tokens.selectors import account_balance, withdrawal_for_reference
from apps.tokens.services import (
    TransferSpec,
    account_open,
    platform_account,
    transfer_post,
    transfer_void,
    transfers_create,
    withdrawal_request,
)

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = "payouts"
# Ledger units per PPT: a wallet payout pays PPT as PPT, so its "fiat" amount is its amount.
LEDGER_UNITS_PER_PPT = Decimal(1_000_000)
AWAITING_SETTLEMENT = "waiting for the next settlement on chain"


def day_start(now: datetime) -> datetime:
    """Midnight of `now`'s day in the network's time zone (TIME_ZONE): daily limits reset then."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def current_rate(*, currency: str, now: datetime | None = None) -> PayoutRate:
    now = now or timezone.now()
    rate = (
        PayoutRate.objects.filter(currency=currency, valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("-valid_from", "-id")
        .first()
    )
    if rate is None:
        raise errors.PayoutRateMissing(details={"currency": currency})
    return rate


def fiat_for(*, amount: int, units_per_ppt: Decimal) -> int:
    """PPT smallest units → the currency's smallest units at the rate, rounded down (never pay more than owed)."""
    return int((Decimal(amount) * units_per_ppt / Decimal(1_000_000)).to_integral_value(rounding=ROUND_DOWN))


@dataclass(frozen=True)
class Destination:
    currency: str
    sim: Sim | None = None
    account: PayoutAccount | None = None


def minimum_for(method: str) -> int:
    """The smallest payout by `method`: PAYOUT_MIN_AMOUNT, and for a wallet payout the smallest withdrawal too."""
    if method == PayoutMethod.WALLET:
        return max(settings.PAYOUT_MIN_AMOUNT, settings.WITHDRAWAL_MIN_AMOUNT)
    return settings.PAYOUT_MIN_AMOUNT


def _destination(*, provider: Provider, method: str, sim_id: int | None, account_id: int | None) -> Destination:
    if method == PayoutMethod.WALLET:
        if not provider.user.evm_address:
            raise WalletNotBound()
        return Destination(currency=WALLET_CURRENCY)
    if method == PayoutMethod.AIRTIME:
        sims = Sim.objects.filter(provider=provider, active=True, verified_at__isnull=False)
        sim = sims.filter(pk=sim_id).first() if sim_id is not None else sims.order_by("slot").first()
        if sim is None:
            raise errors.PayoutNumberUnverified(details={"sim_id": sim_id})
        return Destination(currency=settings.PAYOUT_AIRTIME_CURRENCY, sim=sim)
    accounts = PayoutAccount.objects.filter(provider=provider, active=True)
    account = accounts.filter(pk=account_id).first() if account_id is not None else accounts.first()
    if account is None:
        raise errors.PayoutAccountNotFound(details={"account_id": account_id})
    if account.whitelisted_at is None:
        raise errors.PayoutAccountNotWhitelisted(details={"account_id": account.pk})
    return Destination(currency=account.currency, account=account)


def payout_request(
    *,
    provider: Provider,
    actor: Any,
    method: str,
    amount: int,
    sim_id: int | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
) -> Payout:
    """A provider asks to be paid `amount` PPT units by `method`. Refused with a 4xx error and nothing booked when
    it is below the minimum, above the available balance or today's limit, or goes to an unverified number, an
    unwhitelisted account or (wallet) no bound EVM address. Takes the provider's row lock (and, for a wallet
    payout, the withdrawal's lock on the provider's ledger account after it)."""
    now = now or timezone.now()
    minimum = minimum_for(method)
    if amount < minimum:
        raise errors.PayoutBelowMinimum(details={"minimum": minimum, "amount": amount})
    destination = _destination(provider=provider, method=method, sim_id=sim_id, account_id=account_id)
    wallet = method == PayoutMethod.WALLET
    rate = None if wallet else current_rate(currency=destination.currency, now=now)
    units_per_ppt = LEDGER_UNITS_PER_PPT if rate is None else rate.units_per_ppt
    fiat_amount = fiat_for(amount=amount, units_per_ppt=units_per_ppt)
    if fiat_amount <= 0:
        raise errors.PayoutAmountTooSmall(details={"amount": amount})
    ledger_account = account_open(provider=provider)
    in_flight = platform_account(PlatformAccount.PAYOUTS_IN_FLIGHT)
    with transaction.atomic():
        locked = Provider.objects.select_for_update().select_related("user").filter(pk=provider.pk).first()
        if locked is None or not locked.user.is_active:
            # Erased (or disabled) while this request was on its way: the destination read above may be gone.
            raise ProviderNotActive()
        used = _used_today(provider_id=provider.pk, now=now)
        if used["amount"] + amount > settings.PAYOUT_DAILY_LIMIT or used["count"] + 1 > settings.PAYOUT_DAILY_MAX_COUNT:
            raise errors.PayoutDailyLimitExceeded(
                details={
                    "daily_limit": settings.PAYOUT_DAILY_LIMIT,
                    "daily_max_count": settings.PAYOUT_DAILY_MAX_COUNT,
                    "used_today": used["amount"],
                    "payouts_today": used["count"],
                }
            )
        public_id = f"po_{secrets.token_hex(12)}"
        approval_required = amount > settings.PAYOUT_APPROVAL_ABOVE
        payout = Payout.objects.create(
            public_id=public_id,
            provider=provider,
            method=method,
            status=PayoutStatus.AWAITING_APPROVAL if approval_required else PayoutStatus.QUEUED,
            amount=amount,
            currency=destination.currency,
            fiat_amount=fiat_amount,
            rate=rate,
            units_per_ppt=units_per_ppt,
            sim=destination.sim,
            msisdn=destination.sim.msisdn if destination.sim else "",
            account=destination.account,
            transfer_id="" if wallet else f"payout:{public_id}",
            approval_required=approval_required,
            created_at=now,
            updated_at=now,
        )
        if wallet:
            if not locked.user.evm_address:
                raise WalletNotBound()  # unbound while this request was on its way
            if approval_required:
                # Nothing is held while staff decide (the withdrawal is the one booking, made on approval): refuse
                # now what the balance cannot pay, as the ledger would.
                if account_balance(ledger_account).available < amount:
                    raise errors.PayoutAboveAvailable(details={"amount": amount})
            else:
                _withdraw(payout, requested_by=actor, address=locked.user.evm_address, now=now)
            audit_record(actor=actor, action="incentives.payout_request", target=payout, after=_data(payout))
            return payout
        (result,) = transfers_create(
            [
                TransferSpec(
                    id=payout.transfer_id,
                    amount=amount,
                    debit_account_id=ledger_account.pk,
                    credit_account_id=in_flight.pk,
                    reason=Reason.PAYOUT,
                    pending=True,
                    payout_ref=public_id,
                    memo=f"{method} payout",
                )
            ],
            now=now,
        )
        if result != Result.OK:
            # Rolls the payout row back too: nothing is kept of a refused request.
            raise errors.PayoutAboveAvailable(details={"amount": amount, "ledger_result": result})
        audit_record(actor=actor, action="incentives.payout_request", target=payout, after=_data(payout))
        if not approval_required:
            _send_after_commit(payout.pk)
    return payout


def _withdraw(payout: Payout, *, requested_by: Any, address: str | None, now: datetime) -> None:
    """Book a wallet payout's withdrawal (its one ledger booking) and record it on the payout, which is then pending
    until the withdrawal settles or fails. In the caller's transaction: a refusal keeps nothing of either."""
    try:
        withdrawal = withdrawal_request(
            provider=payout.provider,
            address=address,
            amount=payout.amount,
            requested_by=requested_by,
            reference=f"payout:{payout.public_id}",
            now=now,
        )
    except WithdrawalExceedsBalance as error:
        # The same refusal as the other methods' (the ledger's bound on the available balance).
        raise errors.PayoutAboveAvailable(details={"amount": payout.amount, **(error.details or {})}) from None
    payout.external_id, payout.transfer_id = withdrawal.public_id, withdrawal.transfer_id
    payout.status, payout.pending_reason = PayoutStatus.PENDING, AWAITING_SETTLEMENT
    payout.sent_at = payout.updated_at = now
    payout.save()


def _used_today(*, provider_id: int, now: datetime) -> dict[str, int]:
    today = Payout.objects.filter(
        provider_id=provider_id, created_at__gte=day_start(now), status__in=COUNTED_STATUSES
    ).aggregate(amount=Sum("amount"), count=Count("id"))
    return {"amount": today["amount"] or 0, "count": today["count"] or 0}


def _send_after_commit(payout_id: int) -> None:
    from apps.incentives.payouts.tasks import send_payout

    transaction.on_commit(lambda: send_payout.delay(payout_id))


def payout_approve(*, actor: Any, payout_id: int, now: datetime | None = None) -> Payout:
    """A staff member (never the provider who asked) releases a payout above the approval amount. Audited."""
    return _decide(actor=actor, payout_id=payout_id, approve=True, reason="", now=now)


def payout_reject(*, actor: Any, payout_id: int, reason: str, now: datetime | None = None) -> Payout:
    """A staff member refuses it: the held PPT goes back to the provider (the transfer is voided). Audited."""
    if not reason.strip():
        raise ValidationFailed(details={"reason": "say why"})
    return _decide(actor=actor, payout_id=payout_id, approve=False, reason=reason.strip(), now=now)


def _decide(*, actor: Any, payout_id: int, approve: bool, reason: str, now: datetime | None) -> Payout:
    now = now or timezone.now()
    with transaction.atomic():
        payout = (
            Payout.objects.select_for_update(of=("self", "provider")).select_related("provider__user").get(pk=payout_id)
        )
        if payout.status != PayoutStatus.AWAITING_APPROVAL:
            raise errors.PayoutNotAwaitingApproval(details={"status": payout.status})
        if actor is None or not actor.is_staff or actor.pk == payout.provider.user_id:
            raise errors.PayoutApproverInvalid()
        before = _data(payout)
        payout.decided_by, payout.decided_at, payout.updated_at = actor, now, now
        wallet = payout.method == PayoutMethod.WALLET
        if approve and wallet:
            # Booked now, for the provider who asked (the approver is `decided_by`). Refused (balance spent or the
            # address unbound meanwhile): the error stands, nothing is kept, and the payout still awaits a decision.
            user = payout.provider.user
            _withdraw(payout, requested_by=user, address=user.evm_address, now=now)
        elif approve:
            payout.status = PayoutStatus.QUEUED
            _send_after_commit(payout.pk)
        else:
            if not wallet:  # a wallet payout holds nothing before its approval
                transfer_void(id=f"{payout.transfer_id}:void", pending_id=payout.transfer_id, now=now)
            payout.status, payout.rejection_reason, payout.finished_at = PayoutStatus.REJECTED, reason, now
        payout.save()
        action = "incentives.payout_approve" if approve else "incentives.payout_reject"
        audit_record(actor=actor, action=action, target=payout, before=before, after=_data(payout))
    return payout


def payout_send(*, payout_id: int, now: datetime | None = None) -> Payout:
    """Make the payout's one outside call. Only the caller that moves it queued → sending calls; any other (a task
    delivered twice, a retry) returns the payout as it is. Safe to run twice."""
    now = now or timezone.now()
    claimed = Payout.objects.filter(pk=payout_id, status=PayoutStatus.QUEUED).update(
        status=PayoutStatus.SENDING, sent_at=now, updated_at=now
    )
    payout = Payout.objects.select_related("account").get(pk=payout_id)
    if claimed != 1:
        return payout
    if payout.method == PayoutMethod.AIRTIME:
        outcome = AirtimeClient().topup(
            custom_identifier=payout.public_id,
            msisdn=payout.msisdn,
            amount=decimal_amount(payout.fiat_amount, CURRENCY_SCALES[PayoutCurrency(payout.currency)]),
            operator_id=_operator_id(payout),
            callback_url=settings.AIRTIME_CALLBACK_URL,
        )
    else:
        outcome = PaywayClient().payout(
            tran_id=payout.public_id,
            payee=payout.account.account_number,
            amount=decimal_amount(payout.fiat_amount, CURRENCY_SCALES[PayoutCurrency(payout.currency)]),
            currency=payout.currency,
        )
    return _apply(payout_id=payout_id, outcome=outcome, now=timezone.now() if now is None else now)


def _operator_id(payout: Payout) -> int:
    carrier = payout.sim.carrier if payout.sim_id else ""
    return int(settings.AIRTIME_OPERATOR_IDS.get(carrier) or settings.AIRTIME_OPERATOR_IDS.get("default") or 1)


def payout_check(*, payout_id: int, now: datetime | None = None) -> Payout:
    """Ask the outside API what became of a pending payout (or one left in `sending` longer than
    PAYOUT_SENDING_STALE_SECONDS: its sender died) and apply the answer. Never sends anything. Safe to run twice and
    concurrently with a callback."""
    now = now or timezone.now()
    payout = Payout.objects.get(pk=payout_id)
    stale = now - timedelta(seconds=settings.PAYOUT_SENDING_STALE_SECONDS)
    if not (
        payout.status == PayoutStatus.PENDING
        or (payout.status == PayoutStatus.SENDING and payout.sent_at and payout.sent_at <= stale)
    ):
        return payout
    if payout.method == PayoutMethod.WALLET:
        outcome = _withdrawal_outcome(payout)
    elif payout.method == PayoutMethod.AIRTIME:
        outcome = AirtimeClient().status(custom_identifier=payout.public_id, transaction_id=payout.external_id)
    else:
        outcome = PaywayClient().check(tran_id=payout.public_id)
    Payout.objects.filter(pk=payout_id).update(status_checks=F("status_checks") + 1, last_checked_at=now)
    if outcome.state == "not_found":
        grace = timedelta(seconds=settings.PAYOUT_NOT_FOUND_GRACE_SECONDS)
        if payout.sent_at is not None and now - payout.sent_at >= grace:
            # Long past any request still on its way: it never arrived, and it is never sent again.
            outcome = Outcome("failed", reason=f"never received by the {payout.method} service")
        else:
            outcome = Outcome("unknown", reason="not known to the service yet")
    return _apply(payout_id=payout_id, outcome=outcome, now=now)


def payouts_check_pending(*, now: datetime | None = None, limit: int = 100) -> int:
    """The beat task's work: a status check of each pending payout and each stale `sending` one; how many now
    final. Payouts checked least recently go first."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.PAYOUT_SENDING_STALE_SECONDS)
    due = (
        Payout.objects.filter(Q(status=PayoutStatus.PENDING) | Q(status=PayoutStatus.SENDING, sent_at__lte=stale))
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    finished = 0
    for payout_id in list(due):
        try:
            if payout_check(payout_id=payout_id, now=now).status in FINAL_STATUSES:
                finished += 1
        except Exception:  # one payout's trouble must not stop the others' checks
            logger.exception("status check of payout %s failed", payout_id)
    return finished


def _withdrawal_outcome(payout: Payout) -> Outcome:
    """A wallet payout's outcome is its withdrawal's state (the tokens app settles it on chain)."""
    withdrawal = withdrawal_for_reference(f"payout:{payout.public_id}")
    if withdrawal is None:  # booked with the payout's own row, so never; said rather than guessed
        return Outcome("unknown", reason="no withdrawal booked for it")
    if withdrawal.state == WithdrawalState.SETTLED:
        return Outcome("succeeded", external_id=withdrawal.public_id)
    if withdrawal.state == WithdrawalState.FAILED:
        return Outcome("failed", external_id=withdrawal.public_id, reason="the chain transaction reverted")
    if withdrawal.state == WithdrawalState.BATCHED:
        return Outcome("unknown", external_id=withdrawal.public_id, reason="in a settlement batch on chain")
    return Outcome("unknown", external_id=withdrawal.public_id, reason=AWAITING_SETTLEMENT)


def payout_callback_receive(*, method: str, reference: str, now: datetime | None = None) -> Payout:
    """A callback from the outside API names one of our payouts: check its status with the API (the callback's
    own word is never booked). 404 for a reference we do not know."""
    payout = Payout.objects.filter(public_id=reference, method=method).first()
    if payout is None:
        raise errors.PayoutNotFound(details={"reference": reference[:64]})
    if payout.status == PayoutStatus.SENDING:
        # The answer to our own request is on its way; checking now could race it to the same outcome for nothing,
        # so the check is left to beat once the request is over.
        return payout
    return payout_check(payout_id=payout.pk, now=now)


def _apply(*, payout_id: int, outcome: Outcome, now: datetime) -> Payout:
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.status in FINAL_STATUSES:
            return payout
        before = _data(payout)
        payout.external_id = outcome.external_id or payout.external_id
        payout.updated_at = now
        # A wallet payout's transfer is its withdrawal's: the settlement posted or voided it already.
        own_transfer = payout.method != PayoutMethod.WALLET
        if outcome.state == "succeeded":
            if own_transfer:
                transfer_post(id=f"{payout.transfer_id}:post", pending_id=payout.transfer_id, now=now)
            payout.status, payout.pending_reason, payout.finished_at = PayoutStatus.SUCCEEDED, "", now
        elif outcome.state == "failed":
            if own_transfer:
                transfer_void(id=f"{payout.transfer_id}:void", pending_id=payout.transfer_id, now=now)
            payout.status, payout.failure_reason, payout.finished_at = PayoutStatus.FAILED, outcome.reason, now
            payout.pending_reason = ""
        else:
            payout.status, payout.pending_reason = PayoutStatus.PENDING, outcome.reason or "outcome unknown"
        payout.save()
        if payout.status != before["status"]:
            audit_record(
                action=f"incentives.payout_{payout.status}",
                target=payout,
                before=before,
                after=_data(payout),
                system_actor=SYSTEM_ACTOR,
            )
    return payout


def payout_account_register(
    *, provider: Provider, actor: Any, account_number: str, holder_name: str, currency: str
) -> PayoutAccount:
    """Register a bank account for cash payouts and whitelist it with the payout API (outside any transaction). An
    account the API did not whitelist is kept with the reason; payouts to it are refused until it is."""
    account, _ = PayoutAccount.objects.get_or_create(
        provider=provider,
        account_number_hash=blind_index(account_number),  # the number is encrypted: found by its keyed hash
        active=True,
        defaults={"account_number": account_number, "holder_name": holder_name, "currency": currency},
    )
    audit_record(actor=actor, action="incentives.payout_account_register", target=account)
    if account.whitelisted_at is None:
        payout_account_whitelist(account=account)
    return account


def payout_account_whitelist(*, account: PayoutAccount) -> PayoutAccount:
    """Ask the payout API to whitelist the account (again); safe to repeat."""
    outcome = PaywayClient().whitelist(payee=account.account_number)
    if outcome.state == "succeeded":
        account.whitelisted_at, account.whitelist_error = timezone.now(), ""
    else:
        account.whitelist_error = outcome.reason[:200]
    with transaction.atomic():
        account.save(update_fields=["whitelisted_at", "whitelist_error"])
        audit_record(
            action="incentives.payout_account_whitelist",
            target=account,
            after={"state": outcome.state, "error": account.whitelist_error},
        )
    return account


def _data(payout: Payout) -> dict[str, Any]:
    return {
        "status": payout.status,
        "method": payout.method,
        "amount": payout.amount,
        "fiat_amount": payout.fiat_amount,
        "currency": payout.currency,
        "transfer_id": payout.transfer_id,
        "external_id": payout.external_id,
        "pending_reason": payout.pending_reason,
        "failure_reason": payout.failure_reason,
        "rejection_reason": payout.rejection_reason,
    }


@transaction.atomic
def payout_personal_data_erase(*, user: Any, actor: Any) -> int:
    """A privacy erasure's payouts part: payout account numbers, holders' names and payouts' mobile numbers
    replaced by opaque tokens (amounts, rates and outside ids stay). Returns how many payout accounts changed."""
    from apps.accounts.services.privacy import opaque_token

    accounts = list(PayoutAccount.objects.select_for_update().filter(provider__user=user))
    for account in accounts:
        PayoutAccount.objects.filter(pk=account.pk).update(account_number=opaque_token(), holder_name="", active=False)
    token = opaque_token()
    # A queryset update skips the blind index's pre_save: the keyed hash of the real number goes with it.
    Payout.objects.filter(provider__user=user).exclude(msisdn="").update(msisdn=token, msisdn_hash=blind_index(token))
    audit_record(
        actor=actor,
        action="incentives.payout_personal_data_erased",
        target_type="accounts.user",
        target_id=user.pk,
        after={"payout_accounts": len(accounts)},
        system_actor="privacy",
    )
    return len(accounts)
