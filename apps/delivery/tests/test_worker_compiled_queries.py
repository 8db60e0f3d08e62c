"""The dispatcher's and the push task's reads built once per process (apps.core.compiled): on a warm worker, a
dispatch batch and its push build none of them through the ORM again, and they still take what they took."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.core.crypto import blind_index
from apps.delivery.services import jobs_push
from apps.delivery.tests.test_compiled_queries import built_by_the_orm
from apps.messaging.choices import MessageStatus, Priority
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit, messages_dispatch_due
from apps.messaging.services.dispatch import messages_dispatch_until_done
from apps.providers.choices import Carrier
from apps.providers.models import Sim
from apps.providers.selectors import provider_ids_holding_numbers
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the text is built on PostgreSQL")


@pytest.fixture
def organization():
    return client_create(user=UserFactory(), name="Acme")


def submit(organization, n: int) -> Message:
    data = MessageInput(to=f"012 345 70{n}", body="Your code is 1234")
    return message_submit(organization=organization, api_key=None, data=data)


def the_readers_texts(texts: list[str]) -> list[str]:
    """The ORM-built SELECTs among `texts` that are the dispatcher's or the push task's own reads."""
    return [
        sql
        for sql in texts
        if "SKIP LOCKED" in sql  # the due messages, locked
        or ('FROM "messaging_message"' in sql and '"next_attempt_at" >' in sql)  # the next one due
        or ('FROM "messaging_job"' in sql and '"messaging_job"."message_id" IN' in sql)  # earlier jobs
        or ('FROM "messaging_job"' in sql and '"messaging_job"."id" IN' in sql)  # the jobs to push
        or 'FROM "providers_device"' in sql  # their devices
        or 'FROM "providers_sim"' in sql  # the providers holding the recipients' numbers
    ]


@postgresql_only
def test_a_warm_dispatch_and_push_build_none_of_their_reads(organization, fcm_fake, settings):
    settings.MESSAGE_DISPATCH_BACKOFF_BASE = 60  # the waiting message below stays not yet due
    for _ in range(3):
        provider_with_sim(Carrier.CELLCARD)
    first = submit(organization, 0)
    messages_dispatch_until_done(priority=first.priority, seconds=5)  # warms the statements up
    jobs_push(job_ids=list(Job.objects.filter(message=first).values_list("pk", flat=True)))
    second, third = submit(organization, 1), submit(organization, 2)
    Message.objects.filter(pk=third.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    with built_by_the_orm() as built:
        counts = messages_dispatch_until_done(priority=second.priority, seconds=5)
        job = Job.objects.get(message=second)
        outcomes = jobs_push(job_ids=[job.pk])
    assert the_readers_texts(built) == []
    assert counts == {"taken": 1, "assigned": 1}
    assert outcomes == {job.pk: "sent"}
    assert sorted(int(push.data["job"]) for push in fcm_fake.accepted)[-1] == job.pk
    assert Message.objects.get(pk=third.pk).status == MessageStatus.QUEUED  # not yet due: left alone


def test_a_batch_takes_at_most_its_limit_earliest_first(organization, settings):
    # What the compiled locking read decides (a batch size of its own is a statement of its own). That a message is
    # never offered again to a provider that had it (the earlier jobs' read) is test_dispatch's expired-lease test.
    provider_with_sim(Carrier.CELLCARD)
    messages = [submit(organization, n) for n in range(4)]
    for index, message in enumerate(messages):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=30 - index))
    assert messages_dispatch_due(priority=Priority.NORMAL, limit=2)["taken"] == 2
    assert set(Job.objects.values_list("message_id", flat=True)) == {messages[0].pk, messages[1].pk}
    assert messages_dispatch_due(priority=Priority.NORMAL, limit=1)["taken"] == 1
    assert Job.objects.filter(message=messages[2]).exists()
    assert messages_dispatch_due(priority=Priority.NORMAL, limit=2)["taken"] == 1


def test_a_provider_holding_the_recipients_number_is_never_offered_the_message(organization, settings):
    """A code sent to verify a SIM must not reach the provider claiming that very number; a SIM no longer active on
    the number does not count."""
    settings.MESSAGE_DISPATCH_BACKOFF_BASE = 60
    holder = provider_with_sim(Carrier.CELLCARD)  # the only provider on the carrier
    Sim.objects.filter(provider=holder).update(msisdn="+85512345700", msisdn_hash=blind_index("+85512345700"))
    held = submit(organization, 0)  # to 012 345 700: the holder's own number
    assert messages_dispatch_due(priority=held.priority) == {"taken": 1, "waiting": 1}
    assert not Job.objects.filter(message=held).exists()
    assert provider_ids_holding_numbers(["+85512345700", "+85512345799"]) == {"+85512345700": {holder.pk}}
    Sim.objects.filter(provider=holder).update(active=False, matchable=False, removed_at=timezone.now())
    assert provider_ids_holding_numbers(["+85512345700"]) == {}
    other = provider_with_sim(Carrier.CELLCARD)
    Message.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())
    assert messages_dispatch_due(priority=held.priority)["assigned"] == 1
    assert Job.objects.get(message=held).provider_id == other.pk
