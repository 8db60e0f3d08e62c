"""Events: a message reaching a status clients hear about stores one event and one delivery per target, through
message_transition, in the caller's transaction; nothing for statuses clients are not told about."""

import json

import pytest
from django.db import transaction
from kombu.exceptions import ChannelError

from apps.delivery.webhooks.choices import DeliveryStatus, DeliveryTarget
from apps.delivery.webhooks.models import WebhookDelivery, WebhookEvent
from apps.delivery.webhooks.services import webhook_endpoint_create, webhook_endpoint_update
from apps.messaging.choices import MessageStatus as S
from apps.messaging.models import Message
from apps.messaging.state import message_transition
from peerpower.celery import app

pytestmark = pytest.mark.django_db

# How a queued message legally reaches each status clients are told about.
PATHS = {
    "message.sent": [S.ASSIGNED, S.SENT],
    "message.delivered": [S.ASSIGNED, S.DELIVERED],
    "message.failed": [S.FAILED],
    "message.expired": [S.EXPIRED],
    "message.rejected": [S.REJECTED],
}


def move(message: Message, *statuses: str) -> Message:
    for status in statuses:
        assert message_transition(message=message, to=status, reason="test")
    return message


def prepare(message: Message, event_type: str) -> Message:
    if event_type == "message.rejected":  # only a held message can be rejected
        Message.objects.filter(pk=message.pk).update(status=S.HELD)
        message.refresh_from_db()
    return message


@pytest.mark.parametrize("event_type", list(PATHS))
def test_each_client_status_emits_its_event_with_the_message_resource(
    event_type, endpoint, message_for, client_api, organization
):
    message = prepare(message_for(reference="order-7"), event_type)
    move(message, *PATHS[event_type])

    event = WebhookEvent.objects.get()
    assert (event.type, event.organization_id, event.message_id) == (event_type, organization.pk, message.pk)
    body = json.loads(event.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert (body["id"], body["type"]) == (event.public_id, event_type)
    assert event.public_id.startswith("evt_") and len(event.public_id) > 20
    # Exactly the resource the client API shows for the message.
    assert body["data"]["message"] == client_api.get(f"/api/messages/{message.pk}").json()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.target, delivery.endpoint, delivery.status) == ("endpoint", endpoint, "pending")
    assert delivery.url == endpoint.url and delivery.next_attempt_at == event.created_at


def test_no_event_for_queued_assigned_or_cancelled(endpoint, message_for):
    message = move(message_for(), S.ASSIGNED, S.QUEUED, S.ASSIGNED, S.CANCELLED)
    assert message.status == S.CANCELLED
    assert not WebhookEvent.objects.exists()


def test_event_ids_are_unique(endpoint, message_for):
    for _ in range(3):
        move(message_for(), S.FAILED)
    assert len(set(WebhookEvent.objects.values_list("public_id", flat=True))) == 3


def test_only_enabled_endpoints_subscribed_to_the_type_of_this_client(organization, receiver, message_for):
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory

    def make(url_path, **fields):
        return webhook_endpoint_create(organization=organization, actor=None, url=receiver.url(url_path), **fields)

    delivered_only = make("/delivered", event_types=["message.delivered"])
    failed_only = make("/failed", event_types=["message.failed"])
    switched_off = make("/off", active=False)
    disabled = make("/disabled")
    type(disabled).objects.filter(pk=disabled.pk).update(disabled_at=disabled.created_at, disabled_reason="test")
    other = client_create(user=UserFactory(), name="Other Co")
    webhook_endpoint_create(organization=other, actor=None, url=receiver.url("/other"))

    move(message_for(), S.FAILED)
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [failed_only.pk]
    assert delivered_only.pk and switched_off.pk


def test_callback_url_gets_the_same_events_without_any_endpoint(receiver, message_for):
    message = move(message_for(callback_url=receiver.url("/cb")), S.ASSIGNED, S.SENT, S.DELIVERED)
    deliveries = WebhookDelivery.objects.select_related("event").order_by("id")
    assert [(d.event.type, d.target, d.url) for d in deliveries] == [
        ("message.sent", DeliveryTarget.CALLBACK_URL, receiver.url("/cb")),
        ("message.delivered", DeliveryTarget.CALLBACK_URL, receiver.url("/cb")),
    ]
    assert message.status == S.DELIVERED


def test_endpoint_and_callback_each_get_a_delivery(endpoint, receiver, message_for):
    move(message_for(callback_url=receiver.url("/cb")), S.FAILED)
    assert sorted(WebhookDelivery.objects.values_list("target", flat=True)) == ["callback_url", "endpoint"]
    assert WebhookEvent.objects.count() == 1


def test_nothing_is_stored_when_nobody_listens(message_for):
    move(message_for(), S.FAILED)
    assert not WebhookEvent.objects.exists()


def test_nothing_is_stored_when_the_transition_rolls_back(endpoint, message_for):
    message = message_for()
    with pytest.raises(RuntimeError), transaction.atomic():
        move(message, S.FAILED)
        raise RuntimeError("the caller failed after the status change")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_loser_of_a_concurrent_move_emits_nothing(endpoint, message_for):
    message = message_for()
    stale = Message.objects.get(pk=message.pk)
    move(message, S.FAILED)
    assert message_transition(message=stale, to=S.EXPIRED) is False  # another process moved it first
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["message.failed"]


def test_the_hot_path_costs_one_cache_read_for_clients_without_webhooks(
    message_for, django_assert_num_queries, organization
):
    first, second = message_for(), message_for()
    with django_assert_num_queries(2):  # the status update, and the endpoints (then cached)
        move(first, S.FAILED)
    with django_assert_num_queries(1):  # the status update only
        move(second, S.FAILED)


def test_endpoint_changes_reach_the_cached_hot_path_at_once(organization, receiver, message_for):
    move(message_for(), S.FAILED)  # caches "no endpoints"
    endpoint = webhook_endpoint_create(organization=organization, actor=None, url=receiver.url())
    move(message_for(), S.FAILED)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    webhook_endpoint_update(endpoint=endpoint, actor=None, event_types=["message.delivered"])
    move(message_for(), S.FAILED)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


@pytest.fixture
def default_queue():
    """The broker's default queue, emptied before and after (tasks are published for real)."""
    with app.connection_for_write() as connection, connection.channel() as channel:
        channel.queue_declare(queue="default")
        channel.queue_purge("default")
        yield channel
        channel.queue_purge("default")


def queued_count(channel) -> int:
    try:
        return channel.queue_declare(queue="default", passive=True).message_count
    except ChannelError:  # Redis keeps no empty queue: not found means empty
        return 0


def test_sending_is_enqueued_on_the_broker_after_commit(
    endpoint, receiver, message_for, default_queue, django_capture_on_commit_callbacks
):
    message = message_for(callback_url=receiver.url("/cb"))
    with django_capture_on_commit_callbacks() as callbacks:
        move(message, S.FAILED)
    assert queued_count(default_queue) == 0  # nothing before commit
    for callback in callbacks:
        callback()
    published = []
    while (received := default_queue.basic_get("default", no_ack=True)) is not None:
        args, _kwargs, _embed = json.loads(received.body)
        published.append((received.headers["task"], args))
    deliveries = WebhookDelivery.objects.order_by("id")
    # One sender per target (the endpoint, the callback URL), each taking that target's due deliveries.
    assert sorted(published, key=str) == sorted(
        [
            ("delivery.webhook_send_target", [endpoint.pk, ""]),
            ("delivery.webhook_send_target", [None, receiver.url("/cb")]),
        ],
        key=str,
    )
    assert deliveries.count() == 2
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
