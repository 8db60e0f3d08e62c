"""Ledger accounts: the ledger rows of each currency and the accounts of clients, providers and the platform."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.utils import IntegrityError

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
