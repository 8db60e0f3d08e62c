import pytest

from apps.accounts.tests.factories import UserFactory
from apps.messaging.filtering.runtime import compiled_filter


@pytest.fixture(autouse=True)
def _filter_rereads_rules():
    # Each test's rules live in its own rolled-back transaction; make this process look at the shared version
    # (emptied with the cache before every test) instead of trusting a filter compiled in an earlier test.
    compiled_filter.expire()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)
