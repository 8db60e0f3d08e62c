"""Storing accepted messages: a single send outside a transaction is one INSERT committed before its dispatch
signal; a verification code that is already taken is replaced, with or without a surrounding transaction."""

import threading

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection, connections, transaction

from apps.accounts.models import ClientOrganization
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.services.dispatch import dispatch_signal_received
from apps.messaging.services.sending import _store

BODY = "Your Acme balance is 12.50 USD"


def _committed(message_ids: list[int]) -> bool:
    """Whether another connection (another process, as a Celery worker is) sees these rows."""
    seen: list[bool] = []

    def look() -> None:
        try:
            seen.append(Message.objects.filter(pk__in=message_ids).count() == len(message_ids))
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(30)
    return seen == [True]


def _with_codes(organization: ClientOrganization) -> ClientOrganization:
    ClientOrganization.objects.filter(pk=organization.pk).update(verification_codes=True)
    organization.refresh_from_db()
    return organization


def _copy_taking_code(message: Message, code: str) -> Message:
    """An unsaved message like `message` whose verification code is `code`, as if the generator had drawn it."""
    fields = {f.attname: getattr(message, f.attname) for f in Message._meta.concrete_fields if not f.primary_key}
    suffix = settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", message.verification_code)
    fields["body"] = message.body.removesuffix(suffix) + settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", code)
    fields["verification_code"] = code
    return Message(**fields)


def _assert_stored_with_a_fresh_code(message: Message, taken: str) -> None:
    message.refresh_from_db()
    assert message.verification_code and message.verification_code != taken
    assert message.body == BODY + settings.MESSAGE_VERIFICATION_SUFFIX.replace("{code}", message.verification_code)


@pytest.mark.django_db(transaction=True)
def test_a_single_send_is_committed_before_its_dispatch_signal(organization):
    dispatch_signal_received()  # no dispatcher on its way: the send must signal one
    published: list[bool] = []

    def on_publish(sender=None, body=None, **kwargs):
        if sender == "messaging.dispatch_due":
            # The dispatcher reads due messages from the database: they must be there when it is signalled.
            published.append(_committed(list(Message.objects.values_list("pk", flat=True))))

    before_task_publish.connect(on_publish, weak=False)
    try:
        message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body=BODY))
    finally:
        before_task_publish.disconnect(on_publish)
    assert not connection.in_atomic_block
    assert _committed([message.pk])
    assert published == [True]


@pytest.mark.django_db(transaction=True)
def test_a_taken_verification_code_is_replaced_outside_a_transaction(organization):
    organization = _with_codes(organization)
    first = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body=BODY))
    clash = _copy_taking_code(first, first.verification_code)
    _store([clash])
    _assert_stored_with_a_fresh_code(clash, taken=first.verification_code)
    assert _committed([first.pk, clash.pk])


@pytest.mark.django_db
def test_a_taken_verification_code_is_replaced_inside_a_transaction(organization):
    organization = _with_codes(organization)
    first = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body=BODY))
    clashes = [_copy_taking_code(first, first.verification_code), _copy_taking_code(first, "ABCDEFGH")]
    with transaction.atomic():
        _store(clashes)
        # The savepoint rolled back only the failed INSERT: the transaction goes on.
        assert Message.objects.count() == 3
    for clash in clashes:
        _assert_stored_with_a_fresh_code(clash, taken=first.verification_code)
    assert len({first.verification_code, *(c.verification_code for c in clashes)}) == 3


@pytest.mark.django_db
def test_messages_inserted_many_at_a_time_are_stored_field_for_field(organization):
    """`messages_insert` (the bulk INSERT, sent as JSON on PostgreSQL) stores every column as the objects hold it,
    Khmer text, nulls, JSON and times included, and gives each object its own row's id."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.messaging.inserting import messages_insert

    organization = _with_codes(organization)
    first = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body=BODY))
    now = timezone.now()
    messages = [
        _copy_taking_code(first, "ABCDEFGH"),
        Message(
            organization=organization,
            to="+85512345679",
            carrier="smart",
            body='សួស្តី "quoted" \\ ok',
            encoding="ucs2",
            segments=2,
            price_on_net=7,
            price_cross_carrier=9,
            price_held=18,
            status="held",
            status_reason="content_review",
            filter_score=55,
            filter_reasons=[{"rule": "x", "score": 55}],
            scheduled_at=now + timedelta(hours=1),
            expires_at=now + timedelta(hours=2),
            next_attempt_at=None,
        ),
    ]
    messages_insert(messages)
    for message in messages:
        stored = Message.objects.get(pk=message.pk)
        for field in Message._meta.concrete_fields:
            if field.attname != "updated_at":
                assert getattr(stored, field.attname) == getattr(message, field.attname), field.attname
        assert stored.updated_at is not None
    assert messages[0].pk != messages[1].pk and not messages[1]._state.adding


@pytest.mark.django_db
def test_jobs_inserted_as_a_batch_are_stored_field_for_field(organization):
    """`jobs_insert` (the dispatcher's INSERT, sent as JSON on PostgreSQL) stores every column as the objects hold
    it — defaults, booleans, nulls and times included — and gives each job its own row's id, in order."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.messaging.inserting import jobs_insert
    from apps.messaging.models import Job
    from apps.providers.tests.factories import provider_with_sim

    messages = [
        message_submit(organization=organization, api_key=None, data=MessageInput(to=f"01234567{n}", body=BODY))
        for n in range(2)
    ]
    provider = provider_with_sim()
    sim = provider.sims.get()
    now = timezone.now()
    jobs = [
        Job(
            message=messages[0],
            provider=provider,
            sim=sim,
            trace_token="first-token",
            attempt=1,
            offered_at=now,
            reserved_at=now - timedelta(seconds=1),
            deadline=now + timedelta(minutes=5),
        ),
        Job(
            message=messages[1],
            provider=provider,
            sim=sim,
            trace_token="second-token",
            attempt=3,
            cross_carrier=True,
            sticky=True,
            offered_at=now,
            reserved_at=now,
            deadline=now + timedelta(minutes=2),
            end_reason="",
            last_push_error="",
        ),
    ]
    jobs_insert(jobs)
    assert [job.pk for job in jobs] == sorted(job.pk for job in jobs) and not jobs[1]._state.adding
    for job in jobs:
        stored = Job.objects.get(pk=job.pk)
        for field in Job._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(job, field.attname), field.attname
    assert Job.objects.get(trace_token="second-token").message_id == messages[1].pk
