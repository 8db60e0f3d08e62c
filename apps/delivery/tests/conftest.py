"""Delivery test fixtures: the local FCM fake (one server and one service-account key for the session, since key
generation is the slow part, reset before each test) and the webhook receiver, clients and messages."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.delivery.fcm_fake import FcmFake
from apps.delivery.tests.webhook_receiver import WebhookReceiver

# The messaging tests' clients (an organisation with an API key, its API client, another client's) and staff user.
from apps.messaging.tests.conftest import api_key, client_api, organization, other_client_api, staff  # noqa: F401
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim


@pytest.fixture(scope="session")
def fcm_fake_server() -> Iterator[FcmFake]:
    with FcmFake(project_id="peerpower-test") as fake:
        yield fake


@pytest.fixture(scope="session")
def fcm_credentials_file(fcm_fake_server: FcmFake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fcm_fake_server.write_service_account(tmp_path_factory.mktemp("fcm") / "service-account.json")


@pytest.fixture
def fcm_fake(fcm_fake_server: FcmFake, fcm_credentials_file: Path, settings: object) -> FcmFake:
    """The fake, with the FCM backend pointed at it through settings, as an operator would configure it."""
    fcm_fake_server.reset()
    settings.PUSH_BACKEND = "fcm"
    settings.FCM_CREDENTIALS_FILE = str(fcm_credentials_file)
    settings.FCM_PROJECT_ID = ""  # the service account's project
    settings.FCM_ENDPOINT = fcm_fake_server.endpoint
    settings.FCM_TIMEOUT_SECONDS = 5.0
    return fcm_fake_server


# --- Webhooks ---


@pytest.fixture(scope="session")
def webhook_receiver_server() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(webhook_receiver_server: WebhookReceiver) -> Iterator[WebhookReceiver]:
    """The client's receiver on 127.0.0.1, answering 200 until told otherwise."""
    webhook_receiver_server.reset()
    yield webhook_receiver_server
    webhook_receiver_server.reset()


@pytest.fixture
def endpoint(organization, receiver):  # noqa: F811 - `organization` is the imported fixture
    """An endpoint of the organisation on the receiver, subscribed to every event type."""
    from apps.delivery.webhooks.services import webhook_endpoint_create

    return webhook_endpoint_create(organization=organization, actor=None, url=receiver.url())


@pytest.fixture
def message_for(organization):  # noqa: F811 - `organization` is the imported fixture
    """`message_for(callback_url=...)`: a queued message of the organisation, as the send API stores it."""
    from apps.messaging.services import MessageInput, message_submit

    def make(organization=organization, **fields):
        data = MessageInput(to=fields.pop("to", "012 345 678"), body=fields.pop("body", "Your code is 1234"), **fields)
        return message_submit(organization=organization, api_key=None, data=data)

    return make


@pytest.fixture
def provider() -> Provider:
    """An approved phone on Cellcard with one SIM: the provider of the phone-request tests."""
    return provider_with_sim(Carrier.CELLCARD)
