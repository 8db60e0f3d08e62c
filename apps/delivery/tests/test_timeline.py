"""A message's timeline in the back office: submit, its job, the phone's reports, the client's webhook delivery and
the audit log, oldest first, to the second."""

import pytest
from django.urls import reverse
from django.utils import translation

from apps.accounts.tests.factories import UserFactory
from apps.delivery.tests.test_reports import age_offer, job, message, phone, report  # noqa: F401 - fixtures
from apps.delivery.webhooks.models import WebhookDelivery
from apps.delivery.webhooks.services import webhook_delivery_send
from apps.messaging.timeline import message_timeline

pytestmark = pytest.mark.django_db


def test_the_timeline_tells_the_whole_story_in_order(phone, job, message, receiver, settings):  # noqa: F811
    from apps.delivery.webhooks.services import webhook_endpoint_create

    webhook_endpoint_create(organization=message.organization, actor=None, url=receiver.url())
    age_offer(job)
    assert report(phone, job, "sent").status_code == 200
    assert report(phone, job, "delivered").status_code == 200
    for delivery in WebhookDelivery.objects.filter(event__message=message):
        webhook_delivery_send(delivery_id=delivery.pk)

    message.refresh_from_db()
    with translation.override("en"):
        entries = message_timeline(message)
    whats = [entry.what for entry in entries]
    assert "submitted" in whats  # (the offer was aged 30 s to let the phone report at once, so it comes first)
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries), whats
    for expected in ("offered", "acknowledged", "report: Sent", "report: Delivered", "final: Delivered"):
        assert expected in whats, " | ".join(whats)
    assert whats.index("offered") < whats.index("acknowledged") < whats.index("report: Sent")
    assert "message.delivered attempt 1: Succeeded (2xx)" in whats
    assert any(entry.source == "ledger" and entry.what.startswith("ledger reward:job:") for entry in entries)

    staff = UserFactory(is_staff=True, is_superuser=True)
    from django.test import Client

    client = Client()
    client.force_login(staff)
    timeline = reverse("admin:messaging_message_timeline", args=[message.pk])
    page = client.get(timeline, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "report: Delivered" in page and "submitted" in page
    # Staff reading the back office in Khmer read the timeline in Khmer too (the default language).
    with translation.override("km"):
        submitted, delivered = translation.gettext("submitted"), translation.gettext("Delivered")
    assert submitted != "submitted"
    khmer = client.get(timeline).content.decode()
    assert submitted in khmer and delivered in khmer and "report: Delivered" not in khmer
    change = client.get(reverse("admin:messaging_message_change", args=[message.pk])).content.decode()
    assert reverse("admin:messaging_message_timeline", args=[message.pk]) in change
    assert client.get(reverse("admin:messaging_message_timeline", args=[10**9])).status_code == 404
