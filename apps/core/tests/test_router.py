"""The replica router: reads on a replica, writes and migrations on the primary, read-your-writes after a write."""

import pytest
from django.db import connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.core.context import reset_context
from apps.core.db_router import PrimaryReplicaRouter

pytestmark = pytest.mark.django_db(databases=["default", "replica_test"], transaction=True)


@pytest.fixture
def with_replica():
    with override_settings(DATABASE_REPLICAS=["replica_test"]):
        reset_context()
        yield
        reset_context()


def queries_on(alias, action):
    with CaptureQueriesContext(connections[alias]) as captured:
        action()
    return len(captured)


def test_reads_go_to_the_replica(with_replica):
    assert queries_on("replica_test", lambda: list(User.objects.all())) == 1


def test_without_replicas_reads_use_the_primary():
    reset_context()
    assert queries_on("replica_test", lambda: list(User.objects.all())) == 0
    assert queries_on("default", lambda: list(User.objects.all())) == 1


def test_a_unit_of_work_reads_its_own_writes_from_the_primary(with_replica):
    User.objects.create_user("+85512345678")
    assert queries_on("replica_test", lambda: User.objects.get(phone="+85512345678")) == 0
    assert queries_on("default", lambda: User.objects.get(phone="+85512345678")) == 1
    reset_context()  # the next request or task starts fresh
    assert queries_on("replica_test", lambda: User.objects.get(phone="+85512345678")) == 1


def test_reads_inside_a_transaction_use_the_primary(with_replica):
    with transaction.atomic():
        assert queries_on("replica_test", lambda: list(User.objects.all())) == 0


def test_each_request_starts_on_the_replica(with_replica, client):
    User.objects.create_user("+85512345678")
    with CaptureQueriesContext(connections["replica_test"]) as captured:
        client.get("/api/docs/")
        # The middleware reset the context: a read after the request goes to the replica again.
        list(User.objects.all())
    assert len(captured) == 1


def test_migrations_only_on_the_primary():
    router = PrimaryReplicaRouter()
    assert router.allow_migrate("default", "accounts") is True
    assert router.allow_migrate("replica_test", "accounts") is False
