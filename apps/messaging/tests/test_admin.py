"""The back office: lists, staff edits through the services, and the "try the filter" page."""

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.messaging.models import BlockedRecipient, FilterTerm, OptOut

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", ["filterterm", "domainrule", "optout", "blockedrecipient"])
def test_changelists_and_add_pages_load(admin_client, model):
    assert admin_client.get(reverse(f"admin:messaging_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:messaging_{model}_add")).status_code == 200


def test_opt_out_added_by_staff_is_normalised_and_audited(admin_client, staff):
    response = admin_client.post(reverse("admin:messaging_optout_add"), {"phone": "012 345 678", "note": "called us"})
    assert response.status_code == 302, response.content
    opt_out = OptOut.objects.get()
    assert (opt_out.phone, opt_out.source, opt_out.created_by) == ("+85512345678", "staff", staff)
    assert AuditLog.objects.get(action="opt_out.added").actor == staff


def test_opt_out_form_rejects_invalid_and_duplicate_numbers(admin_client):
    response = admin_client.post(reverse("admin:messaging_optout_add"), {"phone": "12", "note": ""})
    assert response.status_code == 200
    assert phone_error_codes(response) == ["phone_invalid"]
    admin_client.post(reverse("admin:messaging_optout_add"), {"phone": "012345678", "note": ""})
    response = admin_client.post(reverse("admin:messaging_optout_add"), {"phone": "+85512345678", "note": ""})
    assert phone_error_codes(response) == ["unique"]
    assert OptOut.objects.count() == 1


def phone_error_codes(response):
    return [error.code for error in response.context["adminform"].form.errors.as_data()["phone"]]


def test_search_by_number_typed_locally(admin_client):
    admin_client.post(reverse("admin:messaging_blockedrecipient_add"), {"phone": "012345678", "reason": "abuse"})
    assert BlockedRecipient.objects.get().phone == "+85512345678"
    response = admin_client.get(reverse("admin:messaging_blockedrecipient_changelist"), {"q": "012 345 678"})
    assert "+85512345678" in response.content.decode()


def test_deleting_an_opt_out_goes_through_the_service(admin_client):
    admin_client.post(reverse("admin:messaging_optout_add"), {"phone": "012345678", "note": ""})
    opt_out = OptOut.objects.get()
    response = admin_client.post(
        reverse("admin:messaging_optout_changelist"),
        {"action": "delete_selected", "_selected_action": [opt_out.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not OptOut.objects.exists()
    assert AuditLog.objects.filter(action="opt_out.removed").count() == 1


def test_term_added_in_the_admin_is_normalised_and_audited(admin_client):
    response = admin_client.post(
        reverse("admin:messaging_filterterm_add"),
        {"term": "Crypto  Doubler", "language": "en", "category": "scam", "weight": "70", "active": "on", "note": ""},
    )
    assert response.status_code == 302, response.content
    assert FilterTerm.objects.filter(term="crypto doubler").exists()
    assert AuditLog.objects.filter(action="filter_term.created").count() == 1


def test_deactivate_action(admin_client):
    casino = FilterTerm.objects.get(term="casino")
    admin_client.post(
        reverse("admin:messaging_filterterm_changelist"), {"action": "deactivate", "_selected_action": [casino.pk]}
    )
    casino.refresh_from_db()
    assert casino.active is False
    assert AuditLog.objects.filter(action="filter_term.deactivated").count() == 1


def test_try_the_filter(admin_client):
    url = reverse("admin:messaging_filterterm_try")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"body": "កាស៊ីណូអនឡាញ ភ្នាល់បាល់ទាត់ ឈ្នះលុយរាប់លាន!"})
    page = response.content.decode()
    assert '<span id="filter-action">reject</span>' in page
    assert "term_gambling" in page
    assert "កាស៊ីណូ · អនឡាញ · ភ្នាល់" in page
    assert "1 (ucs2, " in page  # one Khmer segment


def test_try_the_filter_needs_staff(client):
    client.force_login(UserFactory(is_staff=False))
    response = client.get(reverse("admin:messaging_filterterm_try"))
    assert response.status_code == 302  # to the admin login


def test_try_the_filter_needs_view_permission(client):
    client.force_login(UserFactory(is_staff=True))  # staff, but no permission on filter terms
    assert client.get(reverse("admin:messaging_filterterm_try")).status_code == 403


def test_weight_edited_in_the_list_goes_through_the_service(admin_client):
    casino = FilterTerm.objects.get(term="casino", language="en")
    response = admin_client.post(
        reverse("admin:messaging_filterterm_changelist") + "?q=casino&language__exact=en",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(casino.pk),
            "form-0-weight": "75",
            "form-0-active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content
    casino.refresh_from_db()
    assert casino.weight == 75
    entry = AuditLog.objects.get(action="filter_term.updated")
    assert (entry.before["weight"], entry.after["weight"]) == (60, 75)
