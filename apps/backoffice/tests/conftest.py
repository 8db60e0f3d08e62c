import pytest

from apps.accounts.tests.factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def organization(db):
    from apps.accounts.services import client_create

    return client_create(user=UserFactory(), name="Acme Bank")
