"""The together dispatcher (light load): a batch of each priority, high first, in one transaction, one INSERT of the
leases and one push batch for all; capacity the batch can give only once goes to the most urgent message."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.messaging.choices import JobStatus, MessageStatus, Priority
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.services.dispatch import messages_dispatch_due_together
from apps.messaging.tests.test_dispatch import OFFERS
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def offers(settings) -> list[list[int]]:
    """The push channel's batches (test_dispatch's stand-in channel: MESSAGING_JOB_OFFER_HOOK is a setting)."""
    settings.MESSAGING_JOB_OFFER_HOOK = "apps.messaging.tests.test_dispatch.record_offers"
    OFFERS.clear()
    return OFFERS


def submit(organization, to: str, priority: str):
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to=to, body="Your code is 1234", priority=priority)
    )


def test_a_burst_of_every_priority_is_one_transaction_one_insert_and_one_push(
    organization, offers, django_capture_on_commit_callbacks
):
    for _ in range(3):
        provider_with_sim(Carrier.CELLCARD)
    low = submit(organization, "012 345 601", Priority.LOW)
    normal = submit(organization, "012 345 602", Priority.NORMAL)
    high = submit(organization, "012 345 603", Priority.HIGH)

    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as ran:
        counts = messages_dispatch_due_together()

    assert counts == {priority: {"taken": 1, "assigned": 1} for priority in Priority.values}
    jobs = Job.objects.filter(message__in=[low, normal, high], status=JobStatus.OFFERED)
    assert jobs.count() == 3
    assert [sorted(ids) for ids in offers] == [sorted(jobs.values_list("pk", flat=True))]  # one push batch
    statements = [query["sql"] for query in ran]
    inserts = [index for index, sql in enumerate(statements) if sql.startswith('INSERT INTO "messaging_job"')]
    assert len(inserts) == 1
    # One transaction (inside the test's: its first savepoint, released last) for every priority's reads and writes.
    outer = statements[0].split()
    assert outer[0] == "SAVEPOINT"
    assert statements.index(f"RELEASE SAVEPOINT {outer[1]}") > inserts[0]
    assert messages_dispatch_due_together() == {priority: {"taken": 0} for priority in Priority.values}


def test_scarce_capacity_goes_to_the_most_urgent_message_whatever_came_first(organization, settings):
    """One provider with room for one job: the low and normal messages came first, the high one gets it."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 1
    provider_with_sim(Carrier.CELLCARD)
    low = submit(organization, "012 345 601", Priority.LOW)
    normal = submit(organization, "012 345 602", Priority.NORMAL)
    high = submit(organization, "012 345 603", Priority.HIGH)

    counts = messages_dispatch_due_together()

    assert counts[Priority.HIGH] == {"taken": 1, "assigned": 1}
    assert counts[Priority.NORMAL] == {"taken": 1, "waiting": 1}
    assert counts[Priority.LOW] == {"taken": 1, "waiting": 1}
    assert Message.objects.get(pk=high.pk).status == MessageStatus.ASSIGNED
    assert set(Message.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True)) == {low.pk, normal.pk}


def test_each_priority_s_batch_is_bounded_and_read_earliest_first(organization, settings):
    """At most MESSAGE_DISPATCH_BATCH of each priority: a backlog of one (its batch full, what its caller hands to a
    dispatcher of its own) does not crowd out another's."""
    settings.MESSAGE_DISPATCH_BATCH = 2
    lows = [submit(organization, f"012 345 6{n:02d}", Priority.LOW) for n in range(4)]
    high = submit(organization, "012 345 699", Priority.HIGH)

    counts = messages_dispatch_due_together()  # no provider: every taken message waits

    assert counts == {
        Priority.HIGH: {"taken": 1, "waiting": 1},
        Priority.NORMAL: {"taken": 0},
        Priority.LOW: {"taken": 2, "waiting": 2},
    }
    tried = set(Message.objects.filter(dispatch_tries=1).values_list("pk", flat=True))
    assert tried == {high.pk, lows[0].pk, lows[1].pk}
