"""Privacy requests end to end: a person downloads their data as a ZIP of JSON and has it erased; staff do both for
a client organisation. Every app contributes its part (apps.accounts.privacy), so this lives in the highest app."""

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey, DenyListEntry, DeviceSession, User
from apps.accounts.services import api_key_create, client_create, session_start
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.providers.choices import ProviderStatus
from apps.providers.models import Device, Sim
from apps.providers.tests.factories import DeviceFactory, ProviderFactory, SimFactory

PHONE = "+85512345678"


@pytest.fixture
def signed_in(db):
    user = UserFactory(phone=PHONE)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {session_start(user=user, device_name='Pixel').access}")
    return api, user


def _zip(response) -> dict:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return {name: json.loads(archive.read(name)) for name in archive.namelist()}


def test_a_provider_downloads_everything_kept_about_them(signed_in):
    api, user = signed_in
    provider = ProviderFactory(user=user)
    sim = SimFactory(provider=provider)
    DeviceFactory(provider=provider)
    response = api.get("/api/me/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    files = _zip(response)
    assert files["profile.json"]["phone"] == PHONE
    assert [row["msisdn"] for row in files["sims.json"]] == [sim.msisdn]
    assert len(files["devices.json"]) == 1
    assert len(files["sessions.json"]) == 1
    assert {"jobs.json", "payouts.json", "earnings.json", "audit.json", "provider.json"} <= files.keys()
    assert "session.created" in {entry["action"] for entry in files["audit.json"]}
    assert AuditLog.objects.filter(action="user.exported", target_id=str(user.pk), actor=user).exists()


def test_a_client_member_downloads_their_profile_and_memberships(signed_in):
    api, user = signed_in
    client_create(user=user, name="Acme")
    files = _zip(api.get("/api/me/export"))
    assert [row["organization__name"] for row in files["memberships.json"]] == ["Acme"]
    assert "sims.json" not in files


def test_exports_are_rate_limited(signed_in, settings):
    settings.PRIVACY_EXPORT_RATE = "1/d"
    api, _ = signed_in
    assert api.get("/api/me/export").status_code == 200
    response = api.get("/api/me/export")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_export_and_erasure_need_a_signed_in_person(db):
    assert APIClient().get("/api/me/export").status_code == 401
    assert APIClient().post("/api/me/erasure").status_code == 401


def test_erasure_pseudonymises_the_person_and_keeps_the_provider_under_its_id(signed_in):
    api, user = signed_in
    user.display_name = "Sokha"
    user.save()
    provider = ProviderFactory(user=user)
    sim = SimFactory(provider=provider)
    DeviceFactory(provider=provider)
    response = api.post("/api/me/erasure")
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert user.phone.startswith("+0") and len(user.phone) == 16
    assert user.display_name == "" and not user.is_active and not user.has_usable_password()
    assert not DeviceSession.objects.filter(user=user).exists()
    assert not Device.objects.filter(provider=provider).exists()
    sim = Sim.objects.get(pk=sim.pk)
    assert sim.msisdn.startswith("+0") and not sim.active and not sim.matchable
    assert not DenyListEntry.objects.exists()  # not banned: the number may register again
    for action in ("user.erased", "provider.personal_data_erased"):
        assert AuditLog.objects.filter(action=action).exists(), action
    # Signed out everywhere: the access token no longer works.
    assert api.get("/api/me").status_code == 401


def test_erasure_waits_while_money_is_in_flight(signed_in):
    api, user = signed_in
    ProviderFactory(user=user, jobs_in_flight=1)
    response = api.post("/api/me/erasure")
    assert response.status_code == 409
    assert response.json()["code"] == "erasure_money_in_flight"
    assert response.json()["details"]["reasons"] == ["jobs_in_flight"]
    user.refresh_from_db()
    assert user.phone == PHONE
    assert not AuditLog.objects.filter(action="user.erased").exists()


def test_an_erased_banned_provider_cannot_register_again(signed_in):
    api, user = signed_in
    ProviderFactory(user=user, status=ProviderStatus.BANNED)
    assert api.post("/api/me/erasure").status_code == 200
    [entry] = DenyListEntry.objects.filter(removed_at__isnull=True)
    assert entry.value.startswith("hash:") and PHONE not in entry.value  # the number itself is erased
    response = APIClient().post("/api/auth/otp/request", {"phone": "012 345 678"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "phone_denied"


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("+85599000002", "staff-password-1"))
    return client


def test_staff_export_a_client_organisation_from_the_admin(staff_client):
    member = UserFactory()
    organization = client_create(user=member, name="Acme")
    response = staff_client.post(
        "/admin/accounts/clientorganization/", {"action": "export_members", "_selected_action": [organization.pk]}
    )
    assert response.status_code == 200
    files = _zip(response)
    assert files["organization.json"]["name"] == "Acme"
    assert files[f"member-{member.pk}/profile.json"]["phone"] == member.phone
    assert AuditLog.objects.filter(action="client.exported", target_id=str(organization.pk)).exists()
    assert AuditLog.objects.filter(action="user.exported", target_id=str(member.pk)).exists()


def test_staff_erase_a_client_organisation_from_the_admin(staff_client):
    member = UserFactory()
    organization = client_create(user=member, name="Acme")
    key, _ = api_key_create(organization=organization, actor=member, name="server")
    form = {"action": "erase_members", "_selected_action": [organization.pk]}
    confirmation = staff_client.post("/admin/accounts/clientorganization/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert confirmation.status_code == 200 and "cannot be undone" in confirmation.content.decode()
    assert User.objects.get(pk=member.pk).is_active  # nothing erased before staff confirm
    response = staff_client.post("/admin/accounts/clientorganization/", {**form, "confirm": "yes"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.phone.startswith("+0") and not member.is_active
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert AuditLog.objects.filter(action="client.erased", target_id=str(organization.pk)).exists()
    assert AuditLog.objects.filter(action="user.erased", target_id=str(member.pk)).exists()


def test_erasure_waits_for_a_queued_payout_and_its_hold(provider, airtime, rates):
    from apps.accounts.errors import ErasureMoneyInFlight
    from apps.accounts.services import user_erase
    from apps.incentives.payouts.services import payout_request, payout_send
    from apps.incentives.tests.conftest import PPT

    payout = payout_request(provider=provider, actor=provider.user, method="airtime", amount=10 * PPT)
    with pytest.raises(ErasureMoneyInFlight) as refused:
        user_erase(user=provider.user, actor=provider.user)
    assert set(refused.value.details["reasons"]) == {"payout_in_flight", "ledger_hold_open"}
    payout_send(payout_id=payout.pk)  # succeeds at the fake: the hold is posted
    user_erase(user=provider.user, actor=provider.user)
    payout.refresh_from_db()
    assert payout.status == "succeeded" and payout.amount == 10 * PPT  # the money record stays
    assert payout.msisdn.startswith("+0")
