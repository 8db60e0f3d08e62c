"""Deny-lists that hold: a listed SIM number, device or account number is refused at registration, SIM add, device
registration and sign-in, with stable codes; the staff actions list the values before taking them out of service;
removal is audited and frees the value again."""

import pytest

from apps.accounts.choices import DenyKind
from apps.accounts.models import DenyListEntry
from apps.accounts.services import deny_list_add, deny_list_remove
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import code_from
from apps.audit.models import AuditLog
from apps.core.crypto import blind_index
from apps.providers.choices import ProviderStatus
from apps.providers.models import Device
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

SIM = {"msisdn": "010 234 567", "slot": 0}
DEVICE = {"fcm_token": "token-" + "a" * 150, "platform": "android", "app_version": "1.0.0", "installation_id": "fid-1"}


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def app(api_client_for):
    return api_client_for(UserFactory())


def register(app, sims=(SIM,), device=DEVICE):
    return app.post("/api/providers/register", {"sims": list(sims), "device": device}, format="json")


def test_a_listed_sim_number_cannot_register_and_the_entry_keeps_who_why_when(app, staff):
    entry = deny_list_add(kind=DenyKind.SIM, value="+855 10 234 567", reason="pumping", actor=staff)
    assert (entry.value, entry.reason, entry.created_by, entry.created_at is not None) == (
        "hash:" + blind_index("+85510234567"), "pumping", staff, True,
    )  # fmt: skip
    response = register(app)
    assert (response.status_code, response.json()["code"]) == (403, "sim_denied")
    assert AuditLog.objects.filter(action="deny_list.added", actor_id=staff.pk).exists()


def test_an_unlisted_sim_number_registers(app, staff):
    deny_list_add(kind=DenyKind.SIM, value="+85510999999", reason="other", actor=staff)
    assert register(app).status_code == 201


def test_a_listed_sim_number_cannot_be_added_later(api_client_for, staff):
    provider = provider_with_sim(status=ProviderStatus.ACTIVE)
    deny_list_add(kind=DenyKind.SIM, value=SIM["msisdn"], reason="fraud", actor=staff)
    client = api_client_for(provider.user)
    response = client.post("/api/providers/me/sims", {**SIM, "slot": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "sim_denied")
    response = client.post("/api/providers/me/sims", {"msisdn": "010 234 568", "slot": 1}, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("listed", ["fid-1", DEVICE["fcm_token"]])
def test_a_listed_device_is_refused_by_installation_id_or_token(app, staff, listed):
    deny_list_add(kind=DenyKind.DEVICE, value=listed, reason="shared phone farm", actor=staff)
    response = register(app)
    assert (response.status_code, response.json()["code"]) == (403, "device_denied")


def test_device_registration_refuses_a_listed_install_and_accepts_another(api_client_for, staff):
    provider = provider_with_sim(status=ProviderStatus.ACTIVE)
    deny_list_add(kind=DenyKind.DEVICE, value="fid-bad", reason="fraud", actor=staff)
    client = api_client_for(provider.user)
    response = client.post("/api/providers/me/devices", {**DEVICE, "installation_id": "fid-bad"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "device_denied")
    response = client.post("/api/providers/me/devices", {**DEVICE, "installation_id": "fid-good"}, format="json")
    assert response.status_code in (200, 201), response.json()
    assert Device.objects.get(fcm_token=DEVICE["fcm_token"]).installation_id == "fid-good"


def test_a_listed_account_number_gets_no_sign_in_code_and_no_session(api_client, staff):
    deny_list_add(kind=DenyKind.PHONE, value="012 345 678", reason="abuse", actor=staff)
    response = api_client.post("/api/auth/otp/request", {"phone": "012 345 678"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "phone_denied")
    assert api_client.post("/api/auth/otp/request", {"phone": "012 345 679"}, format="json").status_code == 202


def test_listed_after_the_code_was_sent_the_sign_in_is_still_refused(
    api_client, staff, otp_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the code is sent after commit
        assert api_client.post("/api/auth/otp/request", {"phone": "012 345 678"}, format="json").status_code == 202
    code = code_from(otp_outbox[-1])
    deny_list_add(kind=DenyKind.PHONE, value="+85512345678", reason="abuse", actor=staff)
    response = api_client.post("/api/auth/otp/verify", {"phone": "012 345 678", "code": code}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "phone_denied")


def test_removal_is_audited_keeps_the_row_and_frees_the_value(app, staff):
    entry = deny_list_add(kind=DenyKind.SIM, value=SIM["msisdn"], reason="mistake?", actor=staff)
    deny_list_remove(entry=entry, actor=staff, reason="the owner proved the number is theirs")
    entry.refresh_from_db()
    assert entry.removed_by == staff and entry.removal_reason.startswith("the owner")
    assert AuditLog.objects.filter(action="deny_list.removed", actor_id=staff.pk).exists()
    assert register(app).status_code == 201
    # Listed again later: a new active entry beside the removed one.
    deny_list_add(kind=DenyKind.SIM, value=SIM["msisdn"], reason="again", actor=staff)
    assert DenyListEntry.objects.filter(value="hash:" + blind_index("+85510234567")).count() == 2


def test_staff_add_and_remove_entries_in_the_admin(client, staff):
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/denylistentry/add/", {"kind": "phone", "value": "012 345 678", "reason": "abuse"}
    )
    assert response.status_code == 302
    entry = DenyListEntry.objects.get()
    assert (entry.value, entry.created_by) == ("hash:" + blind_index("+85512345678"), staff)
    listing = client.get("/admin/accounts/denylistentry/", HTTP_ACCEPT_LANGUAGE="en")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "number with keyed hash " + blind_index("+85512345678")[:8] in page
    assert not any(form in page for form in ("+85512345678", "85512345678", "012345678"))
    # Staff find the entry by typing the number, in any form.
    for typed in ("012 345 678", "+855 12 345 678"):
        found = client.get("/admin/accounts/denylistentry/", {"q": typed}, HTTP_ACCEPT_LANGUAGE="en")
        assert list(found.context["cl"].result_list) == [entry]
    assert not client.get("/admin/accounts/denylistentry/", {"q": "012 345 679"}).context["cl"].result_list
    detail = client.get(f"/admin/accounts/denylistentry/{entry.pk}/change/").content.decode()
    assert "+85512345678" not in detail and "012345678" not in detail
    response = client.post(
        f"/admin/accounts/denylistentry/{entry.pk}/change/",
        {"kind": "phone", "value": entry.value, "reason": "abuse", "removal_reason": "appeal accepted"},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.removed_by, entry.removal_reason) == (staff, "appeal accepted")
    assert AuditLog.objects.filter(action="deny_list.removed").count() == 1


def test_an_invalid_number_in_the_admin_form_is_a_form_error(client, staff):
    client.force_login(staff)
    response = client.post("/admin/accounts/denylistentry/add/", {"kind": "sim", "value": "nope", "reason": "x"})
    assert response.status_code == 200 and not DenyListEntry.objects.exists()
