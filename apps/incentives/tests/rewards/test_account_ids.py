"""The ledger accounts a reward is booked between are read once per process and provider where the billing caches
are on (production), and an account opened by a transaction that rolled back is never remembered."""

import pytest
from django.db import transaction

from apps.incentives import rewards
from apps.providers.tests.factories import ProviderFactory
from apps.tokens.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def remembering(settings):
    settings.BILLING_CACHE_SECONDS = 60
    rewards._account_ids.clear()
    yield
    rewards._account_ids.clear()


def test_read_once_then_remembered(remembering, django_capture_on_commit_callbacks, django_assert_num_queries):
    provider = ProviderFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = rewards._reward_account_ids(provider)  # opens the provider's account
    assert Account.objects.get(pk=first[1]).provider_id == provider.pk
    with django_assert_num_queries(0):
        assert rewards._reward_account_ids(provider) == first


def test_an_account_opened_by_a_rolled_back_transaction_is_not_remembered(
    remembering, django_capture_on_commit_callbacks
):
    provider = ProviderFactory()

    class Undo(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Undo), transaction.atomic():
        rewards._reward_account_ids(provider)
        raise Undo
    assert not Account.objects.filter(provider=provider).exists()
    assert provider.pk not in rewards._account_ids
    with django_capture_on_commit_callbacks(execute=True):
        again = rewards._reward_account_ids(provider)  # opened again, for good this time
    assert Account.objects.get(provider=provider).pk == again[1]
    assert rewards._account_ids[provider.pk] == again


def test_not_remembered_without_the_billing_caches(settings, django_assert_num_queries):
    settings.BILLING_CACHE_SECONDS = 0
    provider = ProviderFactory()
    rewards._reward_account_ids(provider)
    with django_assert_num_queries(1):
        rewards._reward_account_ids(provider)
