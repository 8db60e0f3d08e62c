"""The provider's own endpoints, each tried by the owner, another provider and a stranger (a signed-in user who is
not a provider)."""

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.providers.choices import Availability, Carrier, ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.tests.factories import DeviceFactory, SimFactory, provider_with_sim

pytestmark = pytest.mark.django_db
ME = "/api/providers/me"


@pytest.fixture
def owner():
    return provider_with_sim(Carrier.SMART)


@pytest.fixture
def other_provider():
    return provider_with_sim(Carrier.METFONE)


@pytest.fixture
def stranger():
    return UserFactory()


def test_each_actor_sees_only_their_own_provider(api_client_for, owner, other_provider, stranger):
    mine = api_client_for(owner.user).get(ME)
    theirs = api_client_for(other_provider.user).get(ME)
    assert (mine.status_code, mine.json()["id"]) == (200, owner.pk)
    assert [sim["msisdn"] for sim in mine.json()["sims"]] == [owner.sims.get().msisdn]
    assert theirs.json()["id"] == other_provider.pk
    response = api_client_for(stranger).get(ME)
    assert (response.status_code, response.json()["code"]) == (404, "provider_not_registered")


def test_every_endpoint_needs_a_signed_in_user(api_client, owner):
    sim = owner.sims.get()
    assert api_client.get(ME).status_code == 401
    assert api_client.patch(ME, {}, format="json").status_code == 401
    assert api_client.post(f"{ME}/sims", {}, format="json").status_code == 401
    assert api_client.delete(f"{ME}/sims/{sim.pk}").status_code == 401
    assert api_client.post(f"{ME}/devices", {}, format="json").status_code == 401
    assert api_client.post(f"{ME}/heartbeat", {}, format="json").status_code == 401


def test_a_stranger_cannot_use_provider_endpoints(api_client_for, stranger, owner):
    client = api_client_for(stranger)
    sim = owner.sims.get()
    for response in (
        client.patch(ME, {"availability": "online"}, format="json"),
        client.post(f"{ME}/sims", {"msisdn": "010 555 555", "slot": 1}, format="json"),
        client.delete(f"{ME}/sims/{sim.pk}"),
        client.post(f"{ME}/devices", {"fcm_token": "t" * 40, "platform": "android", "app_version": "1"}, format="json"),
        client.post(f"{ME}/heartbeat", {}, format="json"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "provider_not_registered")
    assert Sim.objects.get(pk=sim.pk).active


def test_get_me_costs_a_fixed_number_of_queries(api_client_for, owner, django_assert_num_queries, counter_backend):
    SimFactory(provider=owner, carrier=Carrier.CELLCARD)
    client = api_client_for(owner.user)
    # user (JWT), provider, its SIMs; plus the SIM counters when they are in the database.
    with django_assert_num_queries(4 if counter_backend == "database" else 3):
        response = client.get(ME)
    assert len(response.json()["sims"]) == 2


def test_going_busy_then_offline(api_client_for, owner):
    client = api_client_for(owner.user)
    assert client.patch(ME, {"availability": "busy"}, format="json").json()["availability"] == "busy"
    assert not Sim.objects.filter(provider=owner, matchable=True).exists()
    body = client.patch(ME, {"availability": "offline"}, format="json").json()
    assert body["availability"] == body["chosen_availability"] == "offline"


def test_profile_changes_are_audited(api_client_for, owner):
    response = api_client_for(owner.user).patch(
        ME, {"province": "kampot", "location": {"lat": "10.6", "lng": "104.18"}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["province"], response.json()["location"]) == ("kampot", {"lat": 10.6, "lng": 104.18})
    entry = AuditLog.objects.get(action="provider.updated")
    assert entry.actor == owner.user and entry.after["province"] == "kampot"


@pytest.mark.parametrize("status", [ProviderStatus.SUSPENDED, ProviderStatus.BANNED])
def test_suspended_and_banned_providers_can_only_go_offline(api_client_for, owner, status):
    owner.status = status
    owner.availability = owner.chosen_availability = Availability.OFFLINE
    owner.save()
    client = api_client_for(owner.user)
    response = client.patch(ME, {"availability": "online"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "provider_not_active")
    assert client.patch(ME, {"availability": "offline"}, format="json").status_code == 200


@override_settings(PROVIDER_SIM_HOURLY_CAP_MAX=50, PROVIDER_SIM_DAILY_CAP_MAX=300)
def test_own_caps_within_the_maximum(api_client_for, owner, other_provider):
    sim = owner.sims.get()
    client = api_client_for(owner.user)
    body = client.patch(ME, {"sims": [{"id": sim.pk, "hourly_cap": 12, "daily_cap": 90}]}, format="json").json()
    assert (body["sims"][0]["hourly_cap"], body["sims"][0]["caps"]["hourly"]) == (12, 12)
    assert body["sims"][0]["caps"]["daily"] == 90

    too_high = client.patch(ME, {"sims": [{"id": sim.pk, "hourly_cap": 51}]}, format="json")
    assert (too_high.status_code, too_high.json()["code"]) == (400, "cap_above_maximum")
    assert too_high.json()["details"]["maximum"] == {"hourly_cap": 50}
    sim.refresh_from_db()
    assert sim.hourly_cap == 12  # the refused request changed nothing

    back_to_default = client.patch(ME, {"sims": [{"id": sim.pk, "hourly_cap": None}]}, format="json").json()
    assert back_to_default["sims"][0]["hourly_cap"] is None

    # Another provider's SIM cannot be capped by this one.
    theirs = other_provider.sims.get()
    response = client.patch(ME, {"sims": [{"id": theirs.pk, "hourly_cap": 1}]}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "sim_not_found")
    theirs.refresh_from_db()
    assert theirs.hourly_cap is None


def test_adding_a_sim(api_client_for, owner):
    response = api_client_for(owner.user).post(
        f"{ME}/sims", {"msisdn": "097 234 5678", "slot": 1, "mcc_mnc": "45608"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["carrier"], response.json()["slot"]) == ("metfone", 1)
    assert Sim.objects.get(pk=response.json()["id"]).matchable  # the provider is active and online


def test_adding_a_sim_into_a_taken_slot_or_past_the_limit(api_client_for, owner):
    client = api_client_for(owner.user)
    response = client.post(f"{ME}/sims", {"msisdn": "097 234 5678", "slot": 0}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "sim_slot_taken")
    with override_settings(PROVIDER_MAX_SIMS=1):
        response = client.post(f"{ME}/sims", {"msisdn": "097 234 5678", "slot": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "sim_limit_reached")


def test_only_the_owner_removes_a_sim_and_its_number_is_then_free(api_client_for, owner, other_provider):
    sim = owner.sims.get()
    response = api_client_for(other_provider.user).delete(f"{ME}/sims/{sim.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "sim_not_found")
    assert Sim.objects.get(pk=sim.pk).active

    assert api_client_for(owner.user).delete(f"{ME}/sims/{sim.pk}").status_code == 204
    sim.refresh_from_db()
    assert (sim.active, sim.matchable) == (False, False) and sim.removed_at is not None
    assert AuditLog.objects.filter(action="provider.sim_removed", target_id=str(sim.pk)).exists()
    # The number may now be registered by someone else (a SIM changes hands).
    response = api_client_for(other_provider.user).post(f"{ME}/sims", {"msisdn": sim.msisdn, "slot": 1}, format="json")
    assert response.status_code == 201
    assert api_client_for(owner.user).delete(f"{ME}/sims/{sim.pk}").status_code == 404  # already removed


def test_registering_a_token_is_idempotent_and_rotation_keeps_the_device(api_client_for, owner):
    client = api_client_for(owner.user)
    device = owner.devices.get()
    same = client.post(
        f"{ME}/devices", {"fcm_token": device.fcm_token, "platform": "android", "app_version": "1.0.0"}, format="json"
    )
    assert (same.status_code, same.json()["id"]) == (200, device.pk)
    rotated = client.post(
        f"{ME}/devices",
        {
            "fcm_token": "new-token-" + "b" * 150,
            "previous_token": device.fcm_token,
            "platform": "android",
            "app_version": "1.1.0",
        },
        format="json",
    )
    assert rotated.json() == {"id": device.pk, "platform": "android", "app_version": "1.1.0"}
    device.refresh_from_db()
    assert device.fcm_token.startswith("new-token-")
    entry = AuditLog.objects.get(action="provider.device_token_rotated")
    assert "new-token" not in str(entry.after) and "new-token" not in str(entry.before)


@pytest.mark.parametrize("field", ["fcm_token", "previous_token", "app_version"])
def test_a_token_or_version_of_spaces_is_refused_as_the_schema_says(api_client_for, owner, field):
    """A CharField trims whitespace and then refuses a blank value, where the schema allowed any non-empty string:
    schema-valid requests were refused. The schema now states the pattern the server applies."""
    from drf_spectacular.generators import SchemaGenerator

    data = {"fcm_token": "token-" + "c" * 20, "platform": "android", "app_version": "1.0.0", field: "   "}
    response = api_client_for(owner.user).post(f"{ME}/devices", data, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["fields"][field][0]["code"] == "invalid"
    schema = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    pattern = schema["DeviceRegisterInputRequest"]["properties"][field]["pattern"]
    assert re.fullmatch(pattern, "   ") is None and re.fullmatch(pattern, "1.0.0-x")


def register_token(client, token, previous_token=None):
    data = {"fcm_token": token, "platform": "android", "app_version": "2.0"}
    if previous_token:
        data["previous_token"] = previous_token
    return client.post(f"{ME}/devices", data, format="json")


def test_a_token_of_another_providers_active_device_is_refused(api_client_for, owner, other_provider, stranger):
    theirs = other_provider.devices.get()
    Device.objects.filter(pk=theirs.pk).update(last_heartbeat_at=timezone.now())
    response = register_token(api_client_for(owner.user), theirs.fcm_token)
    assert (response.status_code, response.json()["code"]) == (409, "device_registered_to_another_provider")
    assert "fcm" not in str(response.json()["details"]).lower()  # the other provider's token is not echoed
    theirs.refresh_from_db()
    assert theirs.provider_id == other_provider.pk
    assert not AuditLog.objects.filter(action="provider.device_updated").exists()
    # Its owner registers it again as before; a stranger (not a provider) gets no further than 404.
    assert register_token(api_client_for(other_provider.user), theirs.fcm_token).status_code == 200
    response = register_token(api_client_for(stranger), theirs.fcm_token)
    assert (response.status_code, response.json()["code"]) == (404, "provider_not_registered")
    theirs.refresh_from_db()
    assert theirs.provider_id == other_provider.pk


def test_registering_as_a_provider_with_another_providers_token_is_refused(api_client_for, other_provider, stranger):
    theirs = other_provider.devices.get()
    body = {
        "sims": [{"msisdn": "010 555 555", "slot": 0}],
        "device": {"fcm_token": theirs.fcm_token, "platform": "android", "app_version": "1.0"},
    }
    response = api_client_for(stranger).post("/api/providers/register", body, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "device_registered_to_another_provider")
    assert not Provider.objects.filter(user=stranger).exists()  # nothing of the registration is kept


@override_settings(PROVIDER_DEVICE_RETIRED_AFTER_DAYS=30)
def test_a_retired_device_moves_with_the_app_install(api_client_for, owner, other_provider):
    """A phone silent for the retirement period has changed hands (or been reset): its token may be taken over."""
    theirs = other_provider.devices.get()
    silent_since = timezone.now() - timedelta(days=31)
    Device.objects.filter(pk=theirs.pk).update(last_heartbeat_at=silent_since, updated_at=silent_since)
    response = register_token(api_client_for(owner.user), theirs.fcm_token)
    assert (response.status_code, response.json()["id"]) == (200, theirs.pk)
    theirs.refresh_from_db()
    assert theirs.provider_id == owner.pk
    moved = AuditLog.objects.get(action="provider.device_updated", target_id=str(theirs.pk))
    assert (moved.before["provider"], moved.after["provider"]) == (other_provider.pk, owner.pk)


def test_a_previous_token_of_another_provider_is_not_taken_over_through_rotation(api_client_for, owner, other_provider):
    other_device = DeviceFactory(provider=other_provider)
    register_token(api_client_for(owner.user), "fresh-" + "c" * 100, previous_token=other_device.fcm_token)
    other_device.refresh_from_db()
    assert other_device.provider_id == other_provider.pk
    assert Device.objects.get(fcm_token="fresh-" + "c" * 100).provider_id == owner.pk
