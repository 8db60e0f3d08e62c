"""Top-up test fixtures: the local Baray fake (`baray_server`, one for the session, in the root conftest; reset
per test) with the Baray client pointed at it through settings, a client organisation with an API key, and rates."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.payments.baray_fake import BarayFake

WEBHOOK_PATH = "/api/billing/baray/webhook"


@pytest.fixture
def baray(baray_server: BarayFake, settings: object) -> BarayFake:
    """The fake, with the Baray client pointed at it as an operator would configure it."""
    baray_server.reset()
    baray_server.webhook_url = ""
    settings.BARAY_API_URL = baray_server.endpoint
    settings.BARAY_CHECKOUT_URL = baray_server.checkout_url
    return baray_server


@pytest.fixture
def organization(db):
    from apps.accounts.services import client_create

    return client_create(user=UserFactory(), name="Acme Bank")


def key_client(organization) -> APIClient:
    from apps.accounts.services import api_key_create

    _, secret = api_key_create(organization=organization, actor=None, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


@pytest.fixture
def client_api(organization) -> APIClient:
    return key_client(organization)


@pytest.fixture
def rates(db):
    """1 USD = 40 PPT; 1 riel = 0.01 PPT (4,000 riel to the dollar)."""
    from apps.payments.models import ExchangeRate

    return {
        "USD": ExchangeRate.objects.create(currency="USD", ppt_per_unit=Decimal("40")),
        "KHR": ExchangeRate.objects.create(currency="KHR", ppt_per_unit=Decimal("0.01")),
    }


def notify(body: bytes):
    """Post a webhook body as Baray does: JSON, no credentials."""
    return APIClient().post(WEBHOOK_PATH, data=body, content_type="application/json")
