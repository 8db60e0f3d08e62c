"""A message's validity ends on time for everyone who reads it: the status API and the admin show `expired` as soon
as `expires_at` has passed, even while the message waits in a long backoff that the reconciler does not look at yet.
The move is the state machine's (legal, the same reason as the sweep's), so the client's webhook fires once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.delivery.webhooks.models import WebhookEvent
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_submit, messages_expire_overdue, messages_reconcile

pytestmark = pytest.mark.django_db


def waiting(organization, *, expires_in: timedelta, body: str = "Your code is 1234") -> Message:
    """A message whose next dispatch try is minutes away (backoff), so nothing but a reader looks at it soon."""
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body=body))
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        expires_at=now + expires_in, next_attempt_at=now + timedelta(minutes=6), callback_url="https://hooks.test/cb"
    )
    message.refresh_from_db()
    return message


def test_expires_exactly_when_validity_ends(organization):
    message = waiting(organization, expires_in=timedelta(minutes=10))
    assert messages_expire_overdue(messages=[message], now=message.expires_at - timedelta(microseconds=1)) == 0
    assert message.status == MessageStatus.QUEUED
    assert messages_expire_overdue(messages=[message], now=message.expires_at) == 1
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.EXPIRED, "validity_ended")
    assert message.finished_at is not None


def test_status_api_shows_expired_once_validity_has_passed(organization, api_key, client_api):
    message = waiting(organization, expires_in=timedelta(seconds=-1))
    body = client_api.get(f"/api/messages/{message.pk}").json()
    assert (body["status"], body["status_reason"]) == ("expired", "validity_ended")
    listed = client_api.get("/api/messages").json()["results"]
    assert [(m["id"], m["status"]) for m in listed] == [(message.pk, "expired")]
    # The sweep finds nothing left to do, and the client is told once.
    assert messages_reconcile(now=timezone.now() + timedelta(minutes=10)) == {"requeued": 0, "expired": 0}
    assert WebhookEvent.objects.filter(message_id=message.pk, type="message.expired").count() == 1


def test_a_message_still_valid_reads_queued(organization, client_api):
    message = waiting(organization, expires_in=timedelta(minutes=1))
    assert client_api.get(f"/api/messages/{message.pk}").json()["status"] == "queued"
    assert not WebhookEvent.objects.exists()


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_admin_shows_expired_and_the_moderation_queue_drops_stale_messages(admin_client, organization):
    queued = waiting(organization, expires_in=timedelta(seconds=-1))
    held = waiting(organization, expires_in=timedelta(seconds=-1), body="Win big at our casino")
    assert held.status == MessageStatus.HELD
    queue = admin_client.get(reverse("admin:messaging_heldmessage_changelist")).content.decode()
    assert f">{held.pk}<" not in queue
    page = admin_client.get(reverse("admin:messaging_message_change", args=[queued.pk])).content.decode()
    assert "validity_ended" in page
    queued.refresh_from_db()
    held.refresh_from_db()
    assert queued.status == held.status == MessageStatus.EXPIRED
    dead = admin_client.get(reverse("admin:messaging_deadletter_changelist")).content.decode()
    assert f">{queued.pk}<" in dead and f">{held.pk}<" in dead
