"""Billing test fixtures: a client organisation with an API key (messaging's), prices in force, PPT in its wallet."""

import pytest
from rest_framework.test import APIClient

from apps.incentives.choices import Route
from apps.incentives.models import Price

# The client organisation, its API key and client, as messaging's tests have them.
from apps.messaging.tests.conftest import _filter_rereads_rules, api_key, client_api, organization  # noqa: F401
from apps.providers.choices import MatchPriority
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

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
