"""The webhook back office: endpoints with their state (edited and deleted through the services), events with
deliveries and attempts, and the audited re-enable and resend actions."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.delivery.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from apps.delivery.webhooks.services import webhook_delivery_send
from apps.messaging.choices import MessageStatus
from apps.messaging.state import message_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def sent_events(endpoint, receiver, message_for):
    """Three events, each delivered to the endpoint and to a callback URL, the first after a failed attempt."""
    receiver.fail_next(1)
    for _ in range(3):
        message_transition(message=message_for(callback_url=receiver.url("/cb")), to=MessageStatus.FAILED)
    for delivery in WebhookDelivery.objects.order_by("id"):
        webhook_delivery_send(delivery_id=delivery.pk)
    retry = WebhookDelivery.objects.get(status="pending")
    assert webhook_delivery_send(delivery_id=retry.pk, now=retry.next_attempt_at) == "succeeded"
    return list(WebhookEvent.objects.order_by("id"))


@pytest.mark.parametrize("model", ["webhookendpoint", "webhookevent", "webhookdelivery"])
def test_lists_load_without_a_query_per_row(admin_client, sent_events, model, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse(f"admin:delivery_{model}_changelist"))
    assert response.status_code == 200


def test_endpoint_page_shows_state_and_hides_the_secret(admin_client, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at=timezone.now(), disabled_reason="20 failed attempts in a row", consecutive_failures=20
    )
    listing = admin_client.get(
        reverse("admin:delivery_webhookendpoint_changelist"), {"disabled": "yes"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "disabled: 20 failed attempts in a row" in listing.content.decode()
    page = admin_client.get(reverse("admin:delivery_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in page and endpoint.secret[:10] in page
    deliveries = admin_client.get(
        reverse("admin:delivery_webhookdelivery_changelist"), {"endpoint__id__exact": endpoint.pk}
    )
    assert deliveries.status_code == 200


def test_event_page_shows_its_deliveries_and_every_attempt(admin_client, sent_events):
    event = sent_events[0]
    page = admin_client.get(reverse("admin:delivery_webhookevent_change", args=[event.pk]), HTTP_ACCEPT_LANGUAGE="en")
    page = page.content.decode()
    assert event.public_id in page
    # Its attempts: the endpoint failed once then succeeded; the callback URL succeeded.
    assert page.count("<td>500</td>") == 1 and page.count("<td>200</td>") == 2
    assert "Message callback URL" in page and "HTTP 500" in page
    found = admin_client.get(reverse("admin:delivery_webhookevent_changelist"), {"q": event.public_id})
    assert event.public_id in found.content.decode()
    by_message = admin_client.get(reverse("admin:delivery_webhookevent_changelist"), {"q": str(event.message_id)})
    assert event.public_id in by_message.content.decode()


def test_staff_re_enable_an_endpoint_through_the_service(admin_client, endpoint, staff):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now(), disabled_reason="kept failing")
    response = admin_client.post(
        reverse("admin:delivery_webhookendpoint_changelist"), {"action": "enable", "_selected_action": [endpoint.pk]}
    )
    assert response.status_code == 302
    assert WebhookEndpoint.objects.get().disabled_at is None
    assert AuditLog.objects.get(action="webhook_endpoint.enabled").actor == staff


def test_staff_resend_events_and_deliveries(admin_client, sent_events, staff):
    response = admin_client.post(
        reverse("admin:delivery_webhookevent_changelist"),
        {"action": "resend", "_selected_action": [sent_events[0].pk]},
    )
    assert response.status_code == 302
    assert set(WebhookDelivery.objects.filter(event=sent_events[0]).values_list("status", flat=True)) == {"pending"}
    delivery = WebhookDelivery.objects.filter(event=sent_events[1]).first()
    admin_client.post(
        reverse("admin:delivery_webhookdelivery_changelist"), {"action": "resend", "_selected_action": [delivery.pk]}
    )
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"
    assert AuditLog.objects.filter(action="webhook_delivery.resent", actor=staff).count() == 3


def change_form(endpoint, **fields):
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "active": "on" if endpoint.active else "",
        **fields,
    }


def test_staff_edit_an_endpoint_through_the_service(admin_client, endpoint, staff, settings):
    url = reverse("admin:delivery_webhookendpoint_change", args=[endpoint.pk])
    response = admin_client.post(url, change_form(endpoint, event_types=["message.failed"], active=""))
    assert response.status_code == 302, response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert (endpoint.event_types, endpoint.active) == (["message.failed"], False)
    audit = AuditLog.objects.get(action="webhook_endpoint.updated")
    assert (audit.actor, audit.after) == (staff, {"event_types": ["message.failed"], "active": False})

    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    refused = admin_client.post(url, change_form(endpoint, url="http://169.254.169.254/latest"))
    assert refused.status_code == 200
    assert [e.code for e in refused.context["adminform"].form.errors.as_data()["url"]] == [
        "webhook_url_private_address"
    ]
    assert WebhookEndpoint.objects.get().url == endpoint.url


def test_staff_delete_an_endpoint_through_the_service(admin_client, sent_events, endpoint, staff):
    WebhookDelivery.objects.filter(endpoint=endpoint).update(status="pending", next_attempt_at=timezone.now())
    response = admin_client.post(reverse("admin:delivery_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditLog.objects.get(action="webhook_endpoint.deleted").actor == staff
    kept = WebhookDelivery.objects.filter(target="endpoint")
    assert {(d.status, d.status_reason, d.endpoint_id) for d in kept} == {("cancelled", "endpoint_deleted", None)}


def test_endpoints_are_created_by_clients_and_events_by_the_system(admin_client, sent_events):
    assert admin_client.get(reverse("admin:delivery_webhookendpoint_add")).status_code == 403
    assert admin_client.get(reverse("admin:delivery_webhookevent_add")).status_code == 403
    event = sent_events[0]
    assert admin_client.get(reverse("admin:delivery_webhookevent_delete", args=[event.pk])).status_code == 403
