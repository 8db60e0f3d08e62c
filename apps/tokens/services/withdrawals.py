"""Withdrawals of PPT to an owner's own EVM address: booked here, paid on chain by `apps.tokens.chain.withdrawals`.

The ledger keeps the chain's picture exact. PPT outstanding (issued − redeemed) is the chain's total supply, and the
custodial hot wallet holds what nobody has taken out. A withdrawal does not change what is outstanding: it moves the
owner's PPT to the platform's `chain_treasury` account, which stands for the PPT held on chain by their owners. So:

- request: a pending transfer `withdrawal:<public_id>` owner → chain treasury (the amount is held at once, so it
  cannot be spent or withdrawn twice; the owner's bound keeps it within the available balance);
- the settlement pays it from the custodial wallet with `transferBatch`;
- final on chain (CHAIN_FINALITY): the transfer is posted (`withdrawal:<public_id>:post`); reverted: voided
  (`…:void`) and the PPT is back in the wallet.

The chain treasury's posted credits therefore equal the confirmed transfers out of the custodial wallet, which
`chain_reconcile` checks (custodial balance = supply − paid out).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from eth_utils import is_address, to_checksum_address

from apps.accounts.errors import WalletNotBound
from apps.tokens.choices import PlatformAccount, Reason, Result, WithdrawalState
from apps.tokens.errors import (
    TransferRefused,
    WithdrawalBelowMinimum,
    WithdrawalDailyLimitExceeded,
    WithdrawalExceedsBalance,
    WithdrawalReferenceReused,
)
from apps.tokens.models import Account, Withdrawal
from apps.tokens.selectors import account_balance
from apps.tokens.services.accounts import account_open, platform_account
from apps.tokens.services.transfers import MAX_AMOUNT, TransferSpec, transfers_create

DAILY_WINDOW = timedelta(hours=24)


def withdrawal_request(
    *,
    amount: int,
    address: str | None,
    provider: Any = None,
    organization: Any = None,
    requested_by: Any = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Withdrawal:
    """Book a withdrawal of `amount` ledger units (10⁻⁶ PPT) from a provider's or a client organisation's PPT
    wallet to `address` (the owner's SIWE-bound EVM address); the settlement pays it on chain.

    Refuses, booking nothing: no address (`wallet_not_bound`), less than WITHDRAWAL_MIN_AMOUNT
    (`withdrawal_below_minimum`), more than the available balance (`withdrawal_exceeds_balance`), more than
    WITHDRAWAL_DAILY_LIMIT within 24 hours with the owner's other withdrawals that have not failed
    (`withdrawal_daily_limit_exceeded`). `reference` is the caller's idempotency key (`payout:po_…`): the same
    reference again returns the withdrawal it booked. Concurrent requests of one wallet take turns on its account row.
    """
    if not address or not is_address(address):
        raise WalletNotBound()
    if type(amount) is not int or amount < settings.WITHDRAWAL_MIN_AMOUNT:
        raise WithdrawalBelowMinimum(details={"minimum": settings.WITHDRAWAL_MIN_AMOUNT})
    if (provider is None) == (organization is None):
        raise ValueError("a withdrawal is from a provider's or an organisation's wallet: give one of them")
    now = now or timezone.now()
    account = account_open(provider=provider) if provider is not None else account_open(organization=organization)
    if reference is not None:
        existing = Withdrawal.objects.filter(reference=reference).first()
        if existing is not None:
            return _same_request(existing, account, amount)
    try:
        return _book(account, amount, address, requested_by, reference, now)
    except IntegrityError:
        # The same reference was booked by a concurrent request meanwhile (its unique key refused this one, and
        # this one's transfer was rolled back with it).
        existing = Withdrawal.objects.filter(reference=reference).first() if reference is not None else None
        if existing is None:
            raise
        return _same_request(existing, account, amount)


def _book(
    account: Account, amount: int, address: str, requested_by: Any, reference: str | None, now: datetime
) -> Withdrawal:
    treasury = platform_account(PlatformAccount.CHAIN_TREASURY)
    with transaction.atomic():
        # One request of this wallet at a time: the 24-hour sum below must see every earlier withdrawal (the ledger's
        # own bound already keeps the balance exact).
        locked = Account.objects.select_for_update().get(pk=account.pk)
        _check_daily_limit(account, amount, now)
        public_id = f"wd_{secrets.token_hex(12)}"
        spec = TransferSpec(
            id=f"withdrawal:{public_id}",
            amount=min(amount, MAX_AMOUNT),
            debit_account_id=account.pk,
            credit_account_id=treasury.pk,
            reason=Reason.WITHDRAWAL,
            pending=True,
            payout_ref=public_id,
            memo=f"to {to_checksum_address(address)}",
        )
        [result] = transfers_create([spec], now=now)
        if result == Result.EXCEEDS_CREDITS or amount > MAX_AMOUNT:
            raise WithdrawalExceedsBalance(details={"available": account_balance(locked).available})
        if result != Result.OK:
            raise TransferRefused(code=result)
        return Withdrawal.objects.create(
            public_id=public_id,
            account=account,
            address=to_checksum_address(address),
            amount=amount,
            requested_by=requested_by,
            reference=reference,
            created_at=now,
        )


def _check_daily_limit(account: Account, amount: int, now: datetime) -> None:
    recent = Withdrawal.objects.filter(account=account, created_at__gt=now - DAILY_WINDOW).exclude(
        state=WithdrawalState.FAILED
    )
    used = recent.aggregate(total=Sum("amount"))["total"] or 0
    if used + amount > settings.WITHDRAWAL_DAILY_LIMIT:
        raise WithdrawalDailyLimitExceeded(details={"limit": settings.WITHDRAWAL_DAILY_LIMIT, "used": used})


def _same_request(existing: Withdrawal, account: Account, amount: int) -> Withdrawal:
    if existing.account_id != account.pk or existing.amount != amount:
        raise WithdrawalReferenceReused()
    return existing
