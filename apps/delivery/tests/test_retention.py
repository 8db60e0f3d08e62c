"""Retention end to end: a message sent through the API, delivered by a phone and told to the client's webhook
leaves no copy of its body or recipient anywhere in the database — plain or decryptable — once its organisation's
retention window has passed and the retention tasks ran; jobs, reports and pushes go on their own schedules,
rewarded jobs stay with the ledger's records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.core.crypto import blind_index
from apps.core.tests.database_scan import find_in_database
from apps.delivery.models import DeliveryReport
from apps.delivery.retention import delivery_reports_prune_batch
from apps.delivery.webhooks.models import WebhookEvent
from apps.delivery.webhooks.services import webhook_endpoint_create, webhook_events_prune
from apps.incentives.models import Reward
from apps.messaging.choices import MessageStatus
from apps.messaging.errors import MessageRedacted
from apps.messaging.idempotency import idempotency_keys_prune
from apps.messaging.models import Job, Message
from apps.messaging.retention import jobs_prune_batch, messages_redact_batch
from apps.messaging.services import MessageInput, message_requeue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

BODY = "Your parcel QX-7731 is at the Toul Kork pick-up point"
NUMBER = "+85512345678"


@pytest.fixture
def organization():
    return client_create(user=UserFactory(), name="Acme")


def deliver(message: Message, api_client_for, status: str = "delivered") -> Job:
    """Dispatch `message` and have the chosen phone acknowledge it and report `status`, as the app does."""
    provider_with_sim(Carrier.CELLCARD)  # 012 numbers are Cellcard's
    assert dispatch(message) == "assigned"
    job = Job.objects.select_related("provider__user").get(message=message)
    phone = api_client_for(job.provider.user)
    assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
    occurred = timezone.now().isoformat().replace("+00:00", "Z")
    report = {"status": status, "occurred_at": occurred}
    if status == "failed":
        report["error_code"] = "generic_failure"
    response = phone.post(f"/api/jobs/{job.pk}/report", report, format="json")
    assert response.status_code == 200, response.json()
    return job


def submit(organization, body: str = BODY, to: str = "012 345 678") -> Message:
    return message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body=body))


def test_after_the_window_no_body_or_number_is_left_anywhere(
    organization, api_client, api_client_for, receiver, settings
):
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 0
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 0
    organization.message_body_retention_days = 3
    organization.save()
    webhook_endpoint_create(organization=organization, actor=None, url=receiver.url())
    from apps.accounts.services import api_key_create

    _, secret = api_key_create(organization=organization, actor=None, name="server")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    sent = api_client.post(
        "/api/messages/send", {"to": "012 345 678", "body": BODY}, format="json", HTTP_IDEMPOTENCY_KEY="order-7731"
    )
    assert sent.status_code == 202, sent.json()
    message = Message.objects.get(pk=sent.json()["id"])
    deliver(message, api_client_for)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert WebhookEvent.objects.filter(message=message).exists()
    # While it is kept, the body and number are in the database only encrypted (the scan decrypts to find them).
    holders = find_in_database(BODY, NUMBER)
    assert "messaging_message.body" in holders and "messaging_message.to" in holders
    assert not [hit for hit in find_in_database(BODY, NUMBER) if _plain(hit)]

    inside_window = message.finished_at + timedelta(days=3) - timedelta(minutes=1)
    assert messages_redact_batch(now=inside_window) == 0
    after_window = message.finished_at + timedelta(days=3, minutes=1)
    assert messages_redact_batch(now=after_window) == 1
    idempotency_keys_prune(now=after_window)
    webhook_events_prune(now=after_window)
    jobs_prune_batch(now=after_window)
    delivery_reports_prune_batch(now=after_window)

    assert find_in_database(BODY, NUMBER) == []
    message.refresh_from_db()
    assert (message.body, message.to, message.redacted_at) == ("", "", after_window)
    # The recipient survives only as its keyed hash: whoever has the number can still find its messages.
    assert Message.objects.filter(to_hash=blind_index(NUMBER)).get() == message


def _plain(hit: str) -> bool:
    """Whether the scan's hit was stored in plain text (not only decryptable)."""
    from django.db import connection

    table, column = hit.split(".")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {quote(table)} WHERE CAST({quote(column)} AS TEXT) LIKE %s",  # noqa: S608
            [f"%{NUMBER}%"],
        )
        return cursor.fetchone()[0] > 0


def test_each_organisation_keeps_bodies_for_its_own_window(organization, settings):
    settings.MESSAGE_BODY_RETENTION_DAYS = 30
    discard = client_create(user=UserFactory(), name="Discard Co")
    discard.message_body_retention_days = 0
    discard.save()
    kept, erased, waiting = submit(organization), submit(discard), submit(discard, body="still queued")
    now = timezone.now()
    Message.objects.filter(pk__in=[kept.pk, erased.pk]).update(status=MessageStatus.FAILED, finished_at=now)

    assert messages_redact_batch(now=now) == 1  # "discard at once": at the first run after the final state
    assert Message.objects.get(pk=erased.pk).body == ""
    assert Message.objects.get(pk=kept.pk).body == BODY
    assert Message.objects.get(pk=waiting.pk).body == "still queued"  # not final: never erased
    assert messages_redact_batch(now=now + timedelta(days=29)) == 0
    assert messages_redact_batch(now=now + timedelta(days=30)) == 1
    assert Message.objects.get(pk=kept.pk).to == ""


def test_batches_are_bounded(organization):
    messages = [submit(organization) for _ in range(3)]
    now = timezone.now()
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=MessageStatus.EXPIRED, finished_at=now)
    later = now + timedelta(days=31)
    assert [messages_redact_batch(now=later, batch_size=2) for _ in range(3)] == [2, 1, 0]


def test_a_redacted_message_cannot_be_requeued(organization):
    from apps.accounts.tests.factories import UserFactory as Staff

    message = submit(organization)
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, finished_at=now)
    messages_redact_batch(now=now + timedelta(days=31))
    with pytest.raises(MessageRedacted):
        message_requeue(message=message, actor=Staff(is_staff=True))
    assert Message.objects.get(pk=message.pk).status == MessageStatus.FAILED


def test_jobs_and_reports_are_pruned_on_their_schedules_and_rewarded_jobs_kept(organization, api_client_for, settings):
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 0
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 0
    rewarded = deliver(submit(organization), api_client_for)
    assert Reward.objects.filter(job=rewarded).exists()
    unrewarded = deliver(submit(organization, to="012 345 679"), api_client_for, status="failed")
    assert not Reward.objects.filter(job=unrewarded).exists()
    assert DeliveryReport.objects.filter(job__in=[rewarded, unrewarded]).count() == 2
    now = timezone.now()

    assert delivery_reports_prune_batch(now=now + timedelta(days=89)) == 0
    assert jobs_prune_batch(now=now + timedelta(days=89)) == 0
    assert delivery_reports_prune_batch(now=now + timedelta(days=91)) == 2
    assert jobs_prune_batch(now=now + timedelta(days=91)) == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [rewarded.pk]
