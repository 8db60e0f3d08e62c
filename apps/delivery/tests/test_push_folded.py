"""A small dispatch batch is pushed by the dispatch task itself, not by a push task of its own (one task per batch
instead of two at a light load); a larger one, or a dispatch outside that task, still goes to the push queue."""

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
