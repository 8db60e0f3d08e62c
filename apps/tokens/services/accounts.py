"""Ledger accounts: the ledger rows of each currency and the accounts of clients, providers and the platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.utils import IntegrityError

from apps.audit.services import audit_record
from apps.tokens.choices import (
    HOT_PLATFORM_ACCOUNTS,
    LEDGER_IDS,
    LEDGER_SCALES,
    LedgerCode,
    OwnerKind,
    PlatformAccount,
    Result,
)
from apps.tokens.errors import TransferRefused
from apps.tokens.models import Account, Ledger


def ledger_get(code: str) -> Ledger:
    """The ledger row of a currency code (PPT, KHR, USD), created if missing (its id is fixed in `LEDGER_IDS`)."""
    if code not in LEDGER_IDS:
        raise TransferRefused(code=Result.LEDGER_INVALID, details={"ledger": code})
    ledger, _ = Ledger.objects.get_or_create(
        pk=LEDGER_IDS[code], defaults={"code": code, "name": LedgerCode(code).label, "scale": LEDGER_SCALES[code]}
    )
    return ledger


def account_open(
    *,
    ledger: str = LedgerCode.PPT,
    organization: Any = None,
    provider: Any = None,
    platform: str = "",
) -> Account:
    """The account of a client organisation, a provider, or a platform account on `ledger`, created on first use.

    Client and provider accounts cannot go below zero (debits bounded by credits). Issuance, revenue and rewards
    are hot (see `apps.tokens.services.transfers`); every platform account is unbounded: issuance goes negative by
    design.
    Safe to call concurrently: the unique keys decide, and the loser reads the winner's row.
    """
    ledger_row = ledger_get(ledger)
    if organization is not None:
        lookup: dict[str, Any] = {"organization": organization}
        defaults: dict[str, Any] = {"owner_kind": OwnerKind.CLIENT, "debits_must_not_exceed_credits": True}
    elif provider is not None:
        lookup = {"provider": provider}
        defaults = {"owner_kind": OwnerKind.PROVIDER, "debits_must_not_exceed_credits": True}
    elif platform in PlatformAccount.values:
        lookup = {"platform": platform}
        defaults = {"owner_kind": OwnerKind.PLATFORM, "is_hot": platform in HOT_PLATFORM_ACCOUNTS}
    else:
        raise ValueError("account_open needs an organization, a provider or a platform account name")
    account = Account.objects.filter(ledger=ledger_row, **lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(ledger=ledger_row, **lookup, **defaults)
    except IntegrityError:
        return Account.objects.get(ledger=ledger_row, **lookup)


def platform_account(name: str, *, ledger: str = LedgerCode.PPT) -> Account:
    """A named platform account (`PlatformAccount`) on `ledger`."""
    return account_open(ledger=ledger, platform=name)


def account_credit_limit_set(*, account: Account, credit_limit: int, actor: Any) -> Account:
    """Let a client's debits pass its posted credits by `credit_limit` smallest units (postpaid; 0 = prepaid).

    Audited. Takes the account's row lock (the one the transfer engine takes), so the new bound applies to the next
    batch; lowering it below what is already spent is refused by the database's bound (`TransferRefused`,
    `exceeds_credits`) rather than leaving an account past its bound."""
    if type(credit_limit) is not int or not 0 <= credit_limit <= 2**63 - 1:
        raise TransferRefused(code=Result.AMOUNT_INVALID, details={"credit_limit": credit_limit})
    if account.owner_kind != OwnerKind.CLIENT:
        raise TransferRefused(code=Result.ACCOUNT_MISSING, details={"reason": "credit_limit_is_for_clients"})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        spent = locked.debits_pending + locked.debits_posted
        if spent > locked.credits_posted + credit_limit:
            raise TransferRefused(code=Result.EXCEEDS_CREDITS, details={"spent": spent})
        before = locked.credit_limit
        Account.objects.filter(pk=account.pk).update(credit_limit=credit_limit)
        audit_record(
            actor=actor,
            action="ledger.credit_limit_set",
            target=locked,
            before={"credit_limit": before},
            after={"credit_limit": credit_limit},
        )
    account.credit_limit = credit_limit
    return account


@dataclass(frozen=True, slots=True)
class Spendable:
    """A client's PPT account, locked, and what it can still spend: posted credits + credit limit − debits."""

    account_id: int | None
    spendable: int


def client_spendable_lock(*, organization_id: int) -> Spendable:
    """Lock the client's PPT account row (`FOR NO KEY UPDATE`, the lock the transfer engine takes first on it, so a
    batch that follows in the same transaction keeps it without waiting) and read what it can spend. One query. An
    organisation without an account can spend nothing (`account_id` None). Call it inside a transaction."""
    return _client_spendable(organization_id=organization_id, lock=True)


def client_spendable(*, organization_id: int) -> Spendable:
    """What the client can spend now, read without a lock (it may change as soon as it is read)."""
    return _client_spendable(organization_id=organization_id, lock=False)


def _client_spendable(*, organization_id: int, lock: bool) -> Spendable:
    rows = Account.objects.filter(ledger_id=LEDGER_IDS[LedgerCode.PPT], organization_id=organization_id)
    if lock:
        rows = rows.select_for_update(no_key=True)
    row = rows.values_list("id", "credits_posted", "credit_limit", "debits_posted", "debits_pending").first()
    if row is None:
        return Spendable(account_id=None, spendable=0)
    account_id, credits_posted, credit_limit, debits_posted, debits_pending = row
    return Spendable(account_id=account_id, spendable=credits_posted + credit_limit - debits_posted - debits_pending)
