"""The local FCM fake, shared by the delivery tests: one server and one service-account key for the session (key
generation is the slow part), reset before each test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.delivery.fcm_fake import FcmFake


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
