"""Dispatch: matching under a lease, waiting without capacity, lease expiry, dead letters, reconciliation."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.messaging.choices import JobStatus, MessageStatus, Priority
from apps.messaging.errors import IllegalTransition
from apps.messaging.models import Job, Message
from apps.messaging.services import (
    MessageInput,
    job_end,
    jobs_end,
    jobs_expire_overdue,
    message_cancel,
    message_moderate,
    message_requeue,
    message_submit,
    messages_dispatch_due,
    messages_reconcile,
    messages_wake,
)
from apps.messaging.state import message_transition, messages_transition
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

CELLCARD_RECIPIENT = "012 345 678"


@pytest.fixture
def message(organization):
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to=CELLCARD_RECIPIENT, body="Your code is 1234")
    )


def test_no_provider_means_waiting_with_backoff_not_failure(message):
    assert dispatch(message) == "waiting"
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.dispatch_tries == 1
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert 0.5 <= wait <= 3.5  # base 2 s with +-50% jitter
    # An early signal for a message that is backing off does nothing (a wait well past the second of slack that
    # counts as due: the jittered one above may be under it).
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert dispatch(message) == "skipped"


def test_backoff_grows_and_is_capped(settings):
    from apps.messaging.services.dispatch import backoff_seconds

    settings.MESSAGE_DISPATCH_BACKOFF_MAX = 60
    assert all(4 <= backoff_seconds(2) <= 12 for _ in range(50))
    assert all(30 <= backoff_seconds(20) <= 90 for _ in range(50))


def test_waiting_message_expires_at_the_end_of_validity(message):
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert dispatch(message) == "expired"
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.EXPIRED, "validity_ended")
    assert message.finished_at is not None


def test_on_net_provider_gets_a_lease(message):
    provider_with_sim(Carrier.SMART)
    cellcard = provider_with_sim(Carrier.CELLCARD)
    assert dispatch(message) == "assigned"
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.ASSIGNED, 1)
    job = Job.objects.get(message=message)
    assert job.provider == cellcard and job.status == JobStatus.OFFERED and not job.cross_carrier
    assert len(job.trace_token) >= 32
    assert job.deadline <= message.expires_at
    assert Provider.objects.get(pk=cellcard.pk).jobs_in_flight == 1
    # Safe to run twice: the second run finds nothing to do.
    assert dispatch(message) == "skipped"
    assert Job.objects.count() == 1


def test_the_database_allows_one_live_lease_per_message(message):
    provider = provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    job = Job.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(
            message=message,
            provider=provider,
            sim=job.sim,
            trace_token="another",
            attempt=2,
            reserved_at=timezone.now(),
            deadline=timezone.now(),
        )


def test_expired_lease_goes_to_a_different_provider_then_dead_letters(message, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 2
    first, second = provider_with_sim(Carrier.CELLCARD), provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    first_job = Job.objects.get()
    Job.objects.update(deadline=timezone.now() - timedelta(seconds=1))
    assert jobs_expire_overdue() == 1
    first_job.refresh_from_db()
    message.refresh_from_db()
    assert first_job.status == JobStatus.EXPIRED and first_job.end_reason == "lease_expired"
    assert Provider.objects.get(pk=first_job.provider_id).jobs_in_flight == 0  # capacity released
    assert (message.status, message.status_reason) == (MessageStatus.QUEUED, "lease_expired")

    assert dispatch(message) == "assigned"
    second_job = Job.objects.get(status=JobStatus.OFFERED)
    assert {first_job.provider_id, second_job.provider_id} == {first.pk, second.pk}

    Job.objects.filter(pk=second_job.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    jobs_expire_overdue()
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.FAILED, "max_attempts")
    assert jobs_expire_overdue() == 0  # nothing left to expire


def test_staff_requeue_of_a_dead_letter(message, staff):
    message_transition(message=message, to=MessageStatus.FAILED, reason="max_attempts")
    message_requeue(message=message, actor=staff)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.status_reason) == (MessageStatus.QUEUED, 0, "requeued_by_staff")
    assert message.expires_at > timezone.now()
    from apps.audit.models import AuditLog

    assert AuditLog.objects.filter(action="message.queued", actor=staff).exists()
    provider_with_sim(Carrier.CELLCARD)
    assert dispatch(message) == "assigned"


def test_reconciler_recovers_a_message_whose_task_was_lost(message, django_capture_on_commit_callbacks, settings):
    provider_with_sim(Carrier.CELLCARD)
    # The broker lost the dispatch signal: the message sits queued, long past due.
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks() as callbacks:
        counts = messages_reconcile()
    assert counts == {"requeued": 1, "expired": 0}
    assert len(callbacks) == 1  # one dispatch signal, after commit
    assert messages_reconcile() == {"requeued": 0, "expired": 0}  # not again while its new signal is fresh
    assert dispatch(message) == "assigned"


def test_reconciler_expires_stale_queued_and_held_messages(organization, message):
    held = message_submit(
        organization=organization,
        api_key=None,
        data=MessageInput(to=CELLCARD_RECIPIENT, body="Win big at our casino tonight"),
    )
    assert held.status == MessageStatus.HELD
    past = timezone.now() - timedelta(minutes=5)
    Message.objects.update(expires_at=past, next_attempt_at=past)
    Message.objects.filter(pk=held.pk).update(next_attempt_at=None)
    assert messages_reconcile() == {"requeued": 0, "expired": 2}


def test_held_message_approved_then_dispatched(organization, staff, django_capture_on_commit_callbacks):
    held = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=CELLCARD_RECIPIENT, body="Win big at our casino")
    )
    with django_capture_on_commit_callbacks() as callbacks:
        message_moderate(message=held, approve=True, actor=staff)
    held.refresh_from_db()
    assert held.status == MessageStatus.QUEUED and len(callbacks) == 1
    provider_with_sim(Carrier.CELLCARD)
    assert dispatch(held) == "assigned"


def test_held_message_rejected_by_staff(organization, staff):
    held = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=CELLCARD_RECIPIENT, body="Win big at our casino")
    )
    message_moderate(message=held, approve=False, actor=staff)
    held.refresh_from_db()
    assert (held.status, held.status_reason) == (MessageStatus.REJECTED, "content_rejected_by_staff")
    assert dispatch(held) == "skipped"


def test_cancel_an_assigned_message_releases_the_lease(message):
    provider = provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    message_cancel(message=message)
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED
    assert Job.objects.get().status == JobStatus.CANCELLED
    assert Provider.objects.get(pk=provider.pk).jobs_in_flight == 0


def test_scheduled_message_is_not_dispatched_early(organization):
    provider_with_sim(Carrier.CELLCARD)
    later = timezone.now() + timedelta(hours=1)
    message = message_submit(
        organization=organization,
        api_key=None,
        data=MessageInput(to=CELLCARD_RECIPIENT, body="Reminder", scheduled_at=later),
    )
    assert dispatch(message) == "skipped"
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert dispatch(message) == "assigned"


def test_low_priority_waits_for_on_net_capacity_while_high_falls_back(organization):
    provider_with_sim(Carrier.SMART)  # no Cellcard SIM at all
    low = message_submit(
        organization=organization,
        api_key=None,
        data=MessageInput(to=CELLCARD_RECIPIENT, body="Newsletter", priority=Priority.LOW),
    )
    high = message_submit(
        organization=organization,
        api_key=None,
        data=MessageInput(to="012 345 679", body="Your code", priority=Priority.HIGH),
    )
    assert dispatch(low) == "waiting"
    assert dispatch(high) == "assigned"
    job = Job.objects.get(message=high)
    assert job.cross_carrier
    high.refresh_from_db()
    assert high.status_reason == "cross_carrier"


def submit(organization, to, **fields):
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to=to, body="Your code is 1234", **fields)
    )


OFFERS: list[list[int]] = []


def record_offers(job_ids: list[int]) -> None:
    """A stand-in push channel (MESSAGING_JOB_OFFER_HOOK is a setting, like an email backend)."""
    OFFERS.append(job_ids)


def test_a_batch_leases_every_due_message_of_its_priority_once(
    organization, settings, django_capture_on_commit_callbacks
):
    settings.MESSAGING_JOB_OFFER_HOOK = "apps.messaging.tests.test_dispatch.record_offers"
    OFFERS.clear()
    for _ in range(3):
        provider_with_sim(Carrier.CELLCARD)
    due = [submit(organization, f"012 345 6{n:02d}") for n in range(5)]
    scheduled = submit(organization, "012 345 699", scheduled_at=timezone.now() + timedelta(hours=1))
    urgent = submit(organization, "012 345 698", priority=Priority.HIGH)

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 5, "assigned": 5}

    jobs = Job.objects.filter(message__in=due)
    assert sorted(jobs.values_list("message_id", flat=True)) == sorted(message.pk for message in due)
    assigned = Message.objects.filter(pk__in=[m.pk for m in due], status=MessageStatus.ASSIGNED)
    assert assigned.filter(attempts=1, next_attempt_at=None, assigned_at__isnull=False).count() == 5
    # The whole batch goes to the push channel at once.
    assert [sorted(ids) for ids in OFFERS] == [sorted(jobs.values_list("pk", flat=True))]
    # Not due yet, or of another priority (its own queue and dispatcher): left alone.
    assert Message.objects.get(pk=scheduled.pk).status == MessageStatus.QUEUED
    assert Message.objects.get(pk=urgent.pk).status == MessageStatus.QUEUED
    # Safe to run again: nothing is due any more.
    assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 0}
    assert messages_dispatch_due(priority=Priority.HIGH) == {"taken": 1, "assigned": 1}


@pytest.mark.parametrize("ending", ["one", "bulk"])
def test_a_job_ending_brings_a_message_waiting_for_its_capacity_forward(
    organization, settings, django_capture_on_commit_callbacks, ending
):
    """Alone (`job_end`) or as a phone's batch's (`jobs_end`: on PostgreSQL the jobs' UPDATE reads the waiting
    messages in the same statement)."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 1
    provider_with_sim(Carrier.CELLCARD)
    first = submit(organization, "012 345 601")
    cellcard_waiting = submit(organization, "012 345 602")
    smart_waiting = submit(organization, "010 345 603")  # Smart: could only go cross-carrier
    # The batch's match sees its own reservation fill the only provider: the others find no capacity and back off.
    assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 3, "assigned": 1, "waiting": 2}
    backing_off = Message.objects.filter(status=MessageStatus.QUEUED)
    assert {m.pk for m in backing_off} == {cellcard_waiting.pk, smart_waiting.pk}
    assert all(m.next_attempt_at > timezone.now() and m.dispatch_tries == 1 for m in backing_off)
    assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 0}  # they back off

    job = Job.objects.select_related("message").get(message=first)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as ran,
        transaction.atomic(),
    ):
        if ending == "one":
            job_end(job=job, status=JobStatus.DELIVERED, reason="delivered", sms_sent=True)
        else:
            jobs_end(jobs=[job], status=JobStatus.DELIVERED, reasons={job.pk: "delivered"}, sms_sent={job.pk: True})
    assert len(callbacks) == 1  # the dispatcher is signalled
    reads = [query["sql"] for query in ran if "next_attempt_at >" in query["sql"]]
    assert len(reads) == 1
    if ending == "bulk" and connection.vendor == "postgresql":
        assert reads[0].startswith('WITH updated AS (UPDATE "messaging_job"'), reads
    # The capacity was a Cellcard SIM's: the Cellcard message comes forward, the Smart one keeps waiting.
    assert Message.objects.get(pk=cellcard_waiting.pk).next_attempt_at <= timezone.now()
    assert Message.objects.get(pk=smart_waiting.pk).next_attempt_at > timezone.now()
    assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 1, "assigned": 1}
    assert Job.objects.get(message=cellcard_waiting).status == JobStatus.OFFERED


def test_a_job_ending_does_not_wake_scheduled_messages(organization):
    provider = provider_with_sim(Carrier.CELLCARD)
    first = submit(organization, "012 345 601")
    later = timezone.now() + timedelta(hours=1)
    scheduled = submit(organization, "012 345 602", scheduled_at=later)
    assert messages_dispatch_due(priority=Priority.NORMAL) == {"taken": 1, "assigned": 1}
    with transaction.atomic():
        job_end(job=Job.objects.get(message=first), status=JobStatus.CANCELLED, reason="cancelled", sms_sent=False)
    assert Message.objects.get(pk=scheduled.pk).next_attempt_at == later
    assert Provider.objects.get(pk=provider.pk).jobs_in_flight == 0


def test_a_wake_up_prefers_the_most_urgent_of_the_soonest_waiting_messages(organization):
    now = timezone.now()
    low = submit(organization, "012 345 611", priority=Priority.LOW)
    high = submit(organization, "012 345 612", priority=Priority.HIGH)
    normal = submit(organization, "012 345 613")
    # All three backing off: the low-priority one would retry first, the high-priority one last.
    for message, seconds in ((low, 5), (normal, 10), (high, 20)):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=now + timedelta(seconds=seconds), dispatch_tries=1)
    with transaction.atomic():
        assert messages_wake(carrier=Carrier.CELLCARD, now=now) == 1
        assert messages_wake(carrier=Carrier.SMART, now=now) == 0  # nobody waits for Smart capacity
    woken = dict(Message.objects.filter(next_attempt_at=now).values_list("pk", "priority"))
    assert woken == {high.pk: Priority.HIGH}


class TestStateMachine:
    def test_the_bulk_move_is_only_for_routine_moves_of_locked_messages(self, message):
        with pytest.raises(IllegalTransition):
            messages_transition(messages=[message], to=MessageStatus.DELIVERED)
        with pytest.raises(ValueError, match="notifies the client"):
            messages_transition(messages=[message], to=MessageStatus.EXPIRED)
        assert messages_transition(messages=[message], to=MessageStatus.CANCELLED, reason="bulk") == 1
        message.refresh_from_db()
        assert (message.status, message.status_reason) == (MessageStatus.CANCELLED, "bulk")
        assert message.finished_at is not None

    @pytest.mark.parametrize(
        ("start", "target"),
        [
            (MessageStatus.QUEUED, MessageStatus.DELIVERED),
            (MessageStatus.QUEUED, MessageStatus.SENT),
            (MessageStatus.DELIVERED, MessageStatus.FAILED),
            (MessageStatus.CANCELLED, MessageStatus.QUEUED),
            (MessageStatus.REJECTED, MessageStatus.QUEUED),
            (MessageStatus.HELD, MessageStatus.ASSIGNED),
        ],
    )
    def test_illegal_moves_are_refused(self, message, start, target):
        Message.objects.filter(pk=message.pk).update(status=start)
        message.refresh_from_db()
        with pytest.raises(IllegalTransition) as error:
            message_transition(message=message, to=target)
        assert error.value.code == "illegal_transition"
        message.refresh_from_db()
        assert message.status == start

    def test_a_stale_copy_loses_the_race(self, message):
        stale = Message.objects.get(pk=message.pk)
        assert message_transition(message=message, to=MessageStatus.CANCELLED) is True
        assert message_transition(message=stale, to=MessageStatus.EXPIRED) is False
        assert Message.objects.get(pk=message.pk).status == MessageStatus.CANCELLED


def test_low_priority_goes_cross_carrier_only_after_waiting_long_enough(organization, settings):
    settings.MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS = 120
    smart = provider_with_sim(Carrier.SMART)  # no Cellcard capacity at all
    low = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=CELLCARD_RECIPIENT, body="hi", priority="low")
    )
    assert dispatch(low) == "waiting"  # fresh: it waits for on-net capacity
    # Due again after 100 s of waiting: still on-net only.
    created = timezone.now() - timedelta(seconds=100)
    Message.objects.filter(pk=low.pk).update(created_at=created, next_attempt_at=timezone.now())
    assert dispatch(low) == "waiting"
    # After 130 s: the Smart SIM may take it, marked cross-carrier.
    Message.objects.filter(pk=low.pk).update(created_at=created - timedelta(seconds=30), next_attempt_at=timezone.now())
    assert dispatch(low) == "assigned"
    job = Job.objects.get(message=low)
    assert (job.provider_id, job.cross_carrier) == (smart.pk, True)


def test_a_scheduled_low_priority_message_waits_from_its_scheduled_time(organization, settings):
    settings.MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS = 120
    provider_with_sim(Carrier.SMART)
    low = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=CELLCARD_RECIPIENT, body="hi", priority="low")
    )
    # Created long ago, but only due (scheduled) a minute ago: it has not waited long enough.
    now = timezone.now()
    Message.objects.filter(pk=low.pk).update(
        created_at=now - timedelta(hours=2), scheduled_at=now - timedelta(seconds=60), next_attempt_at=now
    )
    assert dispatch(low) == "waiting"
    assert not Job.objects.filter(message=low).exists()
