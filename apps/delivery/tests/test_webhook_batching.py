"""New deliveries go out per target: one task per endpoint (or callback URL) and linger window, which sends each due
delivery of that target with its own claim, signature, request and record. The tasks are read from the real broker;
nothing here sleeps (the window is the task's start time, set by the broker)."""

import time

import pytest

from apps.core.tests.broker_queues import broker_purge, broker_take
from apps.delivery.tests.webhook_receiver import signature_valid
from apps.delivery.webhooks.models import WebhookAttempt, WebhookDelivery
from apps.delivery.webhooks.services import (
    webhook_callback_secret_ensure,
    webhook_endpoint_create,
    webhook_target_send_due,
)
from apps.delivery.webhooks.tasks import webhook_send_target
from apps.messaging.choices import MessageStatus as S
from apps.messaging.state import message_transition

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_queues():
    broker_purge("default", "high", "low")
    yield
    broker_purge("default", "high", "low")


def webhook_tasks() -> list[tuple[str, list, float | None]]:
    """The webhook tasks waiting on the default queue: name, arguments, when they may start (Unix time; None: now)."""
    return [
        (task.name, task.args, task.starts_at)
        for task in broker_take("default")
        if task.name.startswith("delivery.webhook")
    ]


@pytest.fixture
def fail_committed(message_for, django_capture_on_commit_callbacks):
    """Fail a new message in a transaction that commits (its events' signals run)."""

    def make(**fields):
        message = message_for(**fields)
        with django_capture_on_commit_callbacks(execute=True):
            assert message_transition(message=message, to=S.FAILED, reason="max_attempts")
        return message

    return make


def test_deliveries_to_one_endpoint_within_the_window_go_out_from_one_task(
    endpoint, receiver, organization, fail_committed, settings
):
    settings.WEBHOOK_LINGER_MS = 50
    other = webhook_endpoint_create(organization=organization, actor=None, url=receiver.url("/other"))
    before = time.time()
    fail_committed(to="012 345 670")
    after = time.time()
    for index in range(1, 3):
        fail_committed(to=f"012 345 67{index}")

    tasks = webhook_tasks()
    # One task per endpoint, not one per delivery (six deliveries), each starting at the end of its window.
    assert sorted((name, args) for name, args, _ in tasks) == [
        ("delivery.webhook_send_target", [endpoint.pk, ""]),
        ("delivery.webhook_send_target", [other.pk, ""]),
    ]
    assert all(before + 0.05 - 0.001 <= starts_at <= after + 0.05 + 0.001 for _, _, starts_at in tasks)

    assert webhook_send_target(endpoint.pk, "") == {"succeeded": 3}

    # Each delivery was its own signed request of its own event's body, and has its own attempt.
    assert [request.path for request in receiver.requests] == ["/hook"] * 3
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("pk")
    assert [request.body for request in receiver.requests] == [d.event.body.encode() for d in deliveries]
    assert len({request.headers["peerpower-event-id"] for request in receiver.requests}) == 3
    for request in receiver.requests:
        assert signature_valid(request.headers["peerpower-signature"], request.body, endpoint.secret)
        assert not signature_valid(request.headers["peerpower-signature"], request.body, other.secret)
    assert [d.status for d in deliveries] == ["succeeded"] * 3
    assert sorted(WebhookAttempt.objects.filter(delivery__endpoint=endpoint).values_list("delivery", "number")) == [
        (d.pk, 1) for d in deliveries
    ]
    # The other endpoint's deliveries wait for their own task.
    assert set(WebhookDelivery.objects.filter(endpoint=other).values_list("status", flat=True)) == {"pending"}
    assert webhook_send_target(other.pk, "") == {"succeeded": 3}


def test_a_delivery_after_the_task_started_gets_a_task_of_its_own(endpoint, receiver, fail_committed, settings):
    settings.WEBHOOK_LINGER_MS = 50
    fail_committed()
    assert webhook_send_target(endpoint.pk, "") == {"succeeded": 1}  # the window is over: the task ran

    fail_committed(to="012 345 999")

    assert [name for name, _, _ in webhook_tasks()] == ["delivery.webhook_send_target"] * 2
    assert webhook_send_target(endpoint.pk, "") == {"succeeded": 1}
    assert len(receiver.requests) == 2


def test_callback_url_deliveries_are_batched_per_url_and_signed_with_the_callback_secret(
    receiver, organization, fail_committed, settings
):
    settings.WEBHOOK_LINGER_MS = 50
    url = receiver.url("/cb?order=7")
    fail_committed(callback_url=url)
    fail_committed(to="012 345 999", callback_url=url)

    [(name, args, _)] = webhook_tasks()
    assert (name, args) == ("delivery.webhook_send_target", [None, url])
    assert webhook_send_target(None, url) == {"succeeded": 2}
    secret = webhook_callback_secret_ensure(organization=organization).secret
    assert [request.path for request in receiver.requests] == ["/cb?order=7"] * 2
    assert all(signature_valid(r.headers["peerpower-signature"], r.body, secret) for r in receiver.requests)


def test_a_target_task_out_of_time_hands_the_rest_to_a_new_task(endpoint, receiver, fail_committed, settings):
    settings.WEBHOOK_LINGER_MS = 50
    fail_committed()
    broker_purge("default")

    assert webhook_target_send_due(endpoint_id=endpoint.pk, seconds=0) == {}

    assert webhook_tasks() == [("delivery.webhook_send_target", [endpoint.pk, ""], None)]
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().status == "pending"


def test_without_a_linger_window_each_delivery_has_its_own_task(endpoint, fail_committed, settings):
    settings.WEBHOOK_LINGER_MS = 0
    fail_committed()
    fail_committed(to="012 345 999")

    assert [(name, starts_at) for name, _, starts_at in webhook_tasks()] == [("delivery.webhook_send", None)] * 2
