import pytest

from apps.accounts.tests.factories import UserFactory
from apps.messaging.filtering.runtime import compiled_filter
from apps.messaging.services.admission import admission_forget


@pytest.fixture(autouse=True)
def _filter_rereads_rules():
    # Each test's rules live in its own rolled-back transaction; make this process look at the shared version
    # (emptied with the cache before every test) instead of trusting a filter compiled in an earlier test.
    compiled_filter.expire()


@pytest.fixture(autouse=True)
def _admission_rereads_the_snapshot():
    # Likewise the admission snapshot a test with ADMISSION_LOCAL_CACHE_SECONDS on left in this process.
    admission_forget()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def organization(db):
    from apps.accounts.services import client_create

    return client_create(user=UserFactory(), name="Acme Bank")


@pytest.fixture
def api_key(organization):
    from apps.accounts.services import api_key_create

    key, secret = api_key_create(organization=organization, actor=None, name="server")
    key.secret = secret
    return key


@pytest.fixture
def client_api(api_key):
    """An API client authenticated with the organisation's API key, as a client system is."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
    return client


@pytest.fixture
def other_client_api(db):
    """A different client organisation's API client."""
    from rest_framework.test import APIClient

    from apps.accounts.services import api_key_create, client_create

    other = client_create(user=UserFactory(), name="Other Co")
    _, secret = api_key_create(organization=other, actor=None, name="server")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
