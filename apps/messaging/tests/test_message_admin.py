"""The back office for messages: lists fast on big tables, search as staff type, moderation and dead letters."""

import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.state import message_transition
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def submit(organization, body="Your code is 1234", to="012 345 678"):
    return message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body=body))


@pytest.mark.parametrize("model", ["message", "heldmessage", "deadletter", "job"])
def test_lists_load_without_counting_everything(admin_client, organization, model, django_assert_max_num_queries):
    message = submit(organization)
    provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(f"admin:messaging_{model}_changelist"))
    assert response.status_code == 200


def test_message_page_shows_its_jobs(admin_client, organization):
    message = submit(organization)
    provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    page = admin_client.get(reverse("admin:messaging_message_change", args=[message.pk])).content.decode()
    assert "offered" in page and Job.objects.get().trace_token not in page


@pytest.mark.parametrize("typed", ["012 345 678", "+85512345678", "85512345678"])
def test_search_by_recipient_as_staff_type_it(admin_client, organization, typed):
    mine = submit(organization)
    other = submit(organization, to="010 123 456")
    page = admin_client.get(reverse("admin:messaging_message_changelist"), {"q": typed}).content.decode()
    assert f">{mine.pk}<" in page and f">{other.pk}<" not in page


def test_search_by_reference(admin_client, organization):
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="x", reference="INV-42")
    )
    page = admin_client.get(reverse("admin:messaging_message_changelist"), {"q": "INV-42"}).content.decode()
    assert f">{message.pk}<" in page


def test_moderation_queue_approve_and_reject(admin_client, organization, staff):
    approve_me = submit(organization, body="Win big at our casino")
    reject_me = submit(organization, body="Win big at our casino tonight")
    queue = admin_client.get(reverse("admin:messaging_heldmessage_changelist")).content.decode()
    assert "term_gambling" in queue
    url = reverse("admin:messaging_heldmessage_changelist")
    admin_client.post(url, {"action": "approve", "_selected_action": [approve_me.pk]})
    admin_client.post(url, {"action": "reject", "_selected_action": [reject_me.pk], "reason": "gambling ad"})
    approve_me.refresh_from_db()
    reject_me.refresh_from_db()
    assert approve_me.status == MessageStatus.QUEUED
    assert (reject_me.status, reject_me.status_reason) == (MessageStatus.REJECTED, "content_rejected_by_staff")
    assert AuditLog.objects.filter(actor=staff, action__in=["message.queued", "message.rejected"]).count() == 2


def test_dead_letters_are_listed_and_requeued(admin_client, organization, staff):
    dead = submit(organization)
    message_transition(message=dead, to=MessageStatus.EXPIRED, reason="validity_ended")
    alive = submit(organization, to="010 123 456")
    page = admin_client.get(reverse("admin:messaging_deadletter_changelist")).content.decode()
    assert f">{dead.pk}<" in page and f">{alive.pk}<" not in page
    admin_client.post(
        reverse("admin:messaging_deadletter_changelist"), {"action": "requeue", "_selected_action": [dead.pk]}
    )
    dead.refresh_from_db()
    assert (dead.status, dead.status_reason) == (MessageStatus.QUEUED, "requeued_by_staff")
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 2


@pytest.mark.parametrize("model", ["message", "heldmessage", "deadletter"])
def test_lists_show_messages_with_a_client_reference(admin_client, organization, model):
    """An empty search box lists everything: a reference set by the client never hides a message from staff."""
    body = "Win big at our casino" if model == "heldmessage" else "Your code is 1234"
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body=body, reference="INV-7")
    )
    if model == "deadletter":
        message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
    page = admin_client.get(reverse(f"admin:messaging_{model}_changelist")).content.decode()
    assert f">{message.pk}<" in page


def test_codes_are_masked_for_staff_without_the_content_permission(client, organization):
    from django.contrib.auth.models import Permission

    from apps.accounts.tests.factories import UserFactory

    message = submit(organization, body="Your ABA code is 482913. Never share it.")
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(clerk)
    url = reverse("admin:messaging_message_change", args=[message.pk])
    page = client.get(url).content.decode()
    assert "482913" not in page and "\u2022" * 6 in page
    clerk.user_permissions.add(Permission.objects.get(codename="view_message_content"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # permissions are cached on the user object
    client.force_login(clerk)
    assert "482913" in client.get(url).content.decode()


def test_held_message_page_highlights_matches_and_moderates_with_a_reason(admin_client, organization, staff):
    held = submit(organization, body="Win big at our casino")
    assert held.status == MessageStatus.HELD
    page = admin_client.get(reverse("admin:messaging_heldmessage_change", args=[held.pk])).content.decode()
    assert "<mark>casino</mark>" in page.lower() and 'value="reject"' in page
    moderate = reverse("admin:messaging_heldmessage_moderate", args=[held.pk])
    # Rejecting needs a reason: nothing changes without one.
    admin_client.post(moderate, {"decision": "reject", "reason": " "})
    held.refresh_from_db()
    assert held.status == MessageStatus.HELD
    response = admin_client.post(moderate, {"decision": "reject", "reason": "online gambling ad"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert (held.status, held.status_reason) == (MessageStatus.REJECTED, "content_rejected_by_staff")
    entry = AuditLog.objects.get(actor=staff, action="message.rejected")
    assert entry.after["note"] == "online gambling ad"
    # Decided: it has left the queue.
    assert admin_client.post(moderate, {"decision": "approve"}).status_code == 404


def test_held_list_reject_without_a_reason_changes_nothing(admin_client, organization):
    held = submit(organization, body="Win big at our casino")
    url = reverse("admin:messaging_heldmessage_changelist")
    admin_client.post(url, {"action": "reject", "_selected_action": [held.pk]})
    held.refresh_from_db()
    assert held.status == MessageStatus.HELD


def test_the_app_list_counts_held_messages_waiting_for_staff(admin_client, organization):
    badge = re.compile(r'class="admin-badge" title="[^"]+">(\d+)</span>')
    assert 'class="admin-badge"' not in admin_client.get(reverse("admin:index")).content.decode()
    submit(organization, body="Win big at our casino")
    submit(organization, body="Win big at our casino tonight")
    assert badge.findall(admin_client.get(reverse("admin:index")).content.decode()) == ["2"]
