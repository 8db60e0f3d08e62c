"""A small dispatch batch is pushed by the dispatch task itself, not by a push task of its own (one task per batch
instead of two at a light load); a larger one, or a dispatch outside that task, still goes to the push queue. By
default "small" is as many jobs as the send pool pushes at once (FCM_PUSH_THREADS): one round trip of FCM's."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from celery.signals import after_task_publish

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.services import job_offer_push_later
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tasks import dispatch_due
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

# The dispatch's own commit must run its on-commit hook inside the task, as in a worker.
pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def published() -> Iterator[list[str]]:
    """The names of the tasks published to the broker meanwhile."""
    names: list[str] = []

    def record(sender: str | None = None, **kwargs: object) -> None:
        names.append(str(sender))

    after_task_publish.connect(record, weak=False)
    try:
        yield names
    finally:
        after_task_publish.disconnect(record)


def dispatch_one() -> tuple[Job, list[str]]:
    provider_with_sim(Carrier.CELLCARD)
    organization = client_create(user=UserFactory(), name="Acme")
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 700", body="Your code is 1234")
    )
    with published() as names:
        dispatch_due.apply(args=[message.priority])
    return Job.objects.get(message=message), names


def dispatch_together(count: int) -> tuple[list[Job], list[str]]:
    """`count` messages to as many providers' numbers, dispatched by one together dispatcher (the light-load one):
    one batch of `count` new jobs. Returns the jobs and the tasks published meanwhile."""
    organization = client_create(user=UserFactory(), name="Acme")
    messages = []
    for number in range(count):
        provider_with_sim(Carrier.CELLCARD)
        messages.append(
            message_submit(
                organization=organization,
                api_key=None,
                data=MessageInput(to=f"012 345 {700 + number}", body="Your code is 1234"),
            )
        )
    with published() as names:
        dispatch_due.apply()
    return list(Job.objects.filter(message__in=messages)), names


def test_by_default_a_light_streams_batch_is_pushed_by_the_dispatch_task(fcm_fake, settings):
    """25 messages a second gathered for the busy linger's 200 ms: about five a batch, often more. The default takes
    them inline (it took five and more to a push task of their own: 0.11 push tasks a message)."""
    assert settings.PUSH_INLINE_MAX_JOBS == 16 <= settings.FCM_PUSH_THREADS
    jobs, names = dispatch_together(12)
    assert len(jobs) == 12
    assert "delivery.push_jobs" not in names
    assert sorted(int(push.data["job"]) for push in fcm_fake.accepted) == sorted(job.pk for job in jobs)


def test_a_batch_over_the_limit_goes_to_the_push_queue_whole(fcm_fake, settings):
    settings.PUSH_INLINE_MAX_JOBS = 3
    jobs, names = dispatch_together(4)
    assert len(jobs) == 4
    assert names.count("delivery.push_jobs") == 1  # one task for the batch, not one per job
    assert fcm_fake.accepted == []


def test_a_small_batch_is_pushed_by_the_dispatch_task(fcm_fake, settings):
    settings.PUSH_INLINE_MAX_JOBS = 4
    job, names = dispatch_one()
    assert "delivery.push_jobs" not in names
    assert [int(push.data["job"]) for push in fcm_fake.accepted] == [job.pk]
    assert job.last_pushed_at is not None


def test_a_larger_batch_goes_to_the_push_queue(fcm_fake, settings):
    settings.PUSH_INLINE_MAX_JOBS = 0
    _job, names = dispatch_one()
    assert names.count("delivery.push_jobs") == 1
    assert fcm_fake.accepted == []


def test_outside_the_dispatch_task_the_push_is_queued(fcm_fake, settings):
    settings.PUSH_INLINE_MAX_JOBS = 4
    with published() as names:
        job_offer_push_later([1])
    assert names == ["delivery.push_jobs"]
    assert fcm_fake.accepted == []
