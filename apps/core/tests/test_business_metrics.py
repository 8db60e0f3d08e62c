"""Business figures on /metrics: the message queue, provider capacity, dispatch, finished messages, Celery queues;
labels only from fixed sets (never a message, client, provider or phone number)."""

import re
from datetime import UTC, datetime

import pytest
from celery import current_app

from apps.core.tests.metrics_scrape import scrape, value
from apps.messaging.choices import MessageStatus, Priority
from apps.messaging.services import MessageInput, message_cancel, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Availability, Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

CELLCARD_RECIPIENT = "012 345 678"


def submit(organization, priority: str = Priority.NORMAL, **fields):
    return message_submit(
        organization=organization,
        api_key=None,
        data=MessageInput(to=CELLCARD_RECIPIENT, body="Your code is 1234", priority=priority, **fields),
    )


def test_queue_gauges_follow_the_messages(client, organization, time_machine):
    time_machine.move_to("2026-03-01 08:00:00+00:00", tick=False)
    submit(organization, Priority.HIGH)
    # Scheduled for later: it waits from its scheduled time, not from its submission.
    submit(organization, Priority.LOW, scheduled_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    time_machine.move_to("2026-03-01 08:01:30+00:00", tick=False)
    submit(organization, Priority.HIGH)
    submit(organization, Priority.LOW)

    samples = scrape(client)
    assert value(samples, "peerpower_queue_depth", priority="high") == 2
    assert value(samples, "peerpower_queue_depth", priority="low") == 2
    assert value(samples, "peerpower_queue_oldest_age_seconds", priority="low") == 0
    assert value(samples, "peerpower_queue_depth", priority="normal") == 0
    assert value(samples, "peerpower_queue_oldest_age_seconds", priority="high") == 90
    assert value(samples, "peerpower_queue_oldest_age_seconds", priority="normal") == 0
    assert value(samples, "peerpower_messages", status="queued", priority="high") == 2
    assert value(samples, "peerpower_messages", status="assigned", priority="high") == 0


def test_providers_online_per_carrier(client):
    provider_with_sim(Carrier.CELLCARD)
    provider_with_sim(Carrier.CELLCARD)
    provider_with_sim(Carrier.SMART, availability=Availability.OFFLINE)

    samples = scrape(client)
    assert value(samples, "peerpower_providers_online", carrier="cellcard") == 2
    assert value(samples, "peerpower_providers_online", carrier="smart") == 0
    assert value(samples, "peerpower_providers_online", carrier="metfone") == 0  # every carrier is listed


def test_dispatch_and_finished_messages_are_counted(client, organization, django_capture_on_commit_callbacks):
    provider_with_sim(Carrier.CELLCARD)
    before = scrape(client)
    message = submit(organization)
    assert dispatch(message) == "assigned"
    with django_capture_on_commit_callbacks(execute=True):
        message_cancel(message=message)

    after = scrape(client)
    for name, labels in [
        ("peerpower_dispatch_total", {"priority": "normal", "outcome": "assigned"}),
        ("peerpower_messages_finished_total", {"carrier": "cellcard", "status": "cancelled"}),
    ]:
        assert value(after, name, **labels) - value(before, name, **labels) == 1, name
    assert value(after, "peerpower_messages", status="assigned", priority="normal") == 0


def test_a_rolled_back_finish_is_not_counted(client, organization, django_capture_on_commit_callbacks):
    from django.db import transaction

    from apps.messaging.state import message_transition

    message = submit(organization)
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
            raise RuntimeError("rolled back")
    after = scrape(client)
    labels = {"carrier": "cellcard", "status": "expired"}
    assert value(after, "peerpower_messages_finished_total", **labels) == value(
        before, "peerpower_messages_finished_total", **labels
    )


def test_celery_queue_lengths_come_from_the_broker(client):
    from apps.core.tasks import ping

    queue = "low"
    with current_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
        ping.apply_async(args=["waiting"], queue=queue, connection=connection)
        ping.apply_async(args=["waiting"], queue=queue, connection=connection)
        try:
            samples = scrape(client)
        finally:
            connection.default_channel.queue_purge(queue)
    assert value(samples, "peerpower_celery_queue_length", queue=queue) == 2
    assert {dict(labels)["queue"] for name, labels in samples if name == "peerpower_celery_queue_length"} == {
        "high",
        "default",
        "low",
    }


# Label values that would mean one series per message, provider, client or phone.
LOOKS_LIKE_AN_IDENTITY = re.compile(r"^\+?\d{5,}$|^[0-9a-f-]{32,36}$|@|^0x[0-9a-fA-F]{40}$")


def test_label_values_come_from_fixed_sets(client, organization, django_capture_on_commit_callbacks):
    provider_with_sim(Carrier.CELLCARD)
    message = submit(organization)
    dispatch(message)
    with django_capture_on_commit_callbacks(execute=True):
        message_cancel(message=message)
    samples = scrape(client)

    fixed = {
        "carrier": set(Carrier.values),
        "priority": set(Priority.values),
        "queue": {queue.name for queue in current_app.conf.task_queues},
        "check": {"supply", "custody"},
    }
    business = re.compile(
        r"^peerpower_(messages|queue_|providers_online|sims_matchable|dispatch|celery_queue|chain_reconcile)"
    )
    seen = 0
    for name, labels in samples:
        if not name.startswith("peerpower_"):
            continue
        for label, label_value in labels:
            assert not LOOKS_LIKE_AN_IDENTITY.search(label_value), (name, label, label_value)
            if business.match(name) and label in fixed:
                seen += 1
                assert label_value in fixed[label], (name, label, label_value)
            if name.startswith("peerpower_messages") and label == "status":
                assert label_value in MessageStatus.values, (name, label_value)
            if name.startswith("peerpower_dispatch") and label == "outcome":
                assert label_value in {"assigned", "waiting", "expired", "deferred"}, label_value
            if name.startswith("peerpower_celery_task") and label == "task":
                assert label_value in current_app.tasks, label_value
    assert seen > 20  # the check saw the business series
