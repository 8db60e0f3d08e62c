"""Incentives test fixtures. Billing: a client organisation with an API key (messaging's), prices in force, PPT in
its wallet. Payouts: the local airtime and PayWay fakes (one each per session, reset per test) with the clients
pointed at them through settings, payout rates, and a provider with a verified SIM and posted earnings."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.incentives.choices import Route
from apps.incentives.models import Price
from apps.incentives.payouts.airtime_fake import AirtimeFake
from apps.incentives.payouts.payway_fake import PaywayFake
from apps.messaging.tests.conftest import _filter_rereads_rules, api_key, client_api, organization  # noqa: F401
from apps.providers.choices import MatchPriority
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

PPT = 1_000_000


@pytest.fixture(scope="session")
def airtime_server() -> Iterator[AirtimeFake]:
    from django.conf import settings

    with AirtimeFake(client_id=settings.AIRTIME_CLIENT_ID, client_secret=settings.AIRTIME_CLIENT_SECRET) as fake:
        yield fake


@pytest.fixture(scope="session")
def payway_server() -> Iterator[PaywayFake]:
    from django.conf import settings

    with PaywayFake(merchant_id=settings.PAYWAY_MERCHANT_ID, api_key=settings.PAYWAY_API_KEY) as fake:
        yield fake


@pytest.fixture
def airtime(airtime_server: AirtimeFake, settings) -> AirtimeFake:
    airtime_server.reset()
    airtime_server.faults.hang_seconds = settings.AIRTIME_TIMEOUT_SECONDS * 2
    settings.AIRTIME_API_URL = settings.AIRTIME_AUTH_URL = airtime_server.endpoint
    return airtime_server


@pytest.fixture
def payway(payway_server: PaywayFake, settings) -> PaywayFake:
    payway_server.reset()
    payway_server.faults.hang_seconds = settings.PAYWAY_TIMEOUT_SECONDS * 2
    settings.PAYWAY_API_URL = payway_server.endpoint
    return payway_server


@pytest.fixture
def rates(db):
    """1 PPT pays 2.5 US cents, or 100 riel."""
    from apps.incentives.models import PayoutRate

    return {
        "USD": PayoutRate.objects.create(currency="USD", units_per_ppt=Decimal("2.5")),
        "KHR": PayoutRate.objects.create(currency="KHR", units_per_ppt=Decimal("100")),
    }


def earn(provider, amount: int, *, key: str = "1", pending: bool = False) -> None:
    """Book earnings as the rewards flow does: posted (or pending) from the platform's rewards account."""
    from apps.tokens.choices import PlatformAccount, Reason
    from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

    (result,) = transfers_create(
        [
            TransferSpec(
                id=f"reward:test:{provider.pk}:{key}",
                amount=amount,
                debit_account_id=platform_account(PlatformAccount.REWARDS).pk,
                credit_account_id=account_open(provider=provider).pk,
                reason=Reason.REWARD,
                pending=pending,
            )
        ]
    )
    assert result == "ok"


def available(provider) -> int:
    from apps.tokens.selectors import account_balance
    from apps.tokens.services import account_open

    return account_balance(account_open(provider=provider)).available


@pytest.fixture
def provider(db):
    """A provider with one verified SIM and 100 PPT of posted earnings."""
    from apps.providers.tests.factories import SimFactory, provider_with_sim

    provider = provider_with_sim()
    provider.sims.update(verified_at=timezone.now())
    SimFactory(provider=provider)  # a second SIM, never verified
    earn(provider, 100 * PPT)
    return provider


@pytest.fixture
def cash_account(provider, payway):
    from apps.incentives.payouts.services import payout_account_register

    return payout_account_register(
        provider=provider, actor=provider.user, account_number="000123456", holder_name="Sok Dara", currency="USD"
    )


# Per segment, in 10⁻⁶ PPT: on-net 0.01 PPT, cross-carrier 0.015 PPT, for every priority.
ON_NET = 10_000
CROSS = 15_000


def key_client(client_org) -> APIClient:
    """A client system's API client for `client_org`, with a key of its own."""
    from apps.accounts.services import api_key_create

    _, secret = api_key_create(organization=client_org, actor=None, name="server")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def prices(db) -> list[Price]:
    return [
        Price.objects.create(priority=priority, route=route, amount=ON_NET if route == Route.ON_NET else CROSS)
        for priority in MatchPriority.values
        for route in Route.values
    ]


def fund(client_org, amount: int, *, ref: str = "1") -> int:
    """Issue `amount` PPT units to the organisation, as a paid top-up does; returns its account id."""
    account = account_open(organization=client_org)
    issuance = platform_account(PlatformAccount.ISSUANCE)
    (result,) = transfers_create(
        [
            TransferSpec(
                id=f"topup:test:{client_org.pk}:{ref}",
                amount=amount,
                debit_account_id=issuance.pk,
                credit_account_id=account.pk,
                reason=Reason.TOP_UP,
            )
        ]
    )
    assert result == "ok"
    return account.pk


def spendable(client_org) -> int:
    from apps.tokens.models import Account

    account = Account.objects.get(organization=client_org)
    return account.credits_posted + account.credit_limit - account.debits_posted - account.debits_pending
