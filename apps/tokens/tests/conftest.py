"""Accounts the ledger's tests book between: two client organisations, a provider, and the platform accounts."""

import itertools

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

_ids = itertools.count(1)


def next_id(prefix: str = "t") -> str:
    return f"{prefix}:{next(_ids)}"


@pytest.fixture
def organization(db):
    from apps.accounts.services import client_create

    return client_create(user=UserFactory(), name="Acme Bank")


@pytest.fixture
def client_account(organization):
    return account_open(organization=organization)


@pytest.fixture
def provider(db):
    from apps.providers.tests.factories import ProviderFactory

    return ProviderFactory()


@pytest.fixture
def provider_account(provider):
    return account_open(provider=provider)


@pytest.fixture
def issuance(db):
    return platform_account(PlatformAccount.ISSUANCE)


@pytest.fixture
def revenue(db):
    return platform_account(PlatformAccount.REVENUE)


def fund(account, amount: int, *, issuance=None) -> None:
    """Issue `amount` to `account` (a top-up)."""
    issuance = issuance or platform_account(PlatformAccount.ISSUANCE, ledger=account.ledger.code)
    spec = TransferSpec(
        id=next_id("top-up"),
        amount=amount,
        debit_account_id=issuance.pk,
        credit_account_id=account.pk,
        ledger=account.ledger.code,
        reason=Reason.TOP_UP,
    )
    assert transfers_create([spec]) == ["ok"]
