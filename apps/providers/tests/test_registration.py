"""POST /api/providers/register: validation of SIM numbers and carriers, duplicates, activation, audit."""

import pytest
from django.test import override_settings

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.providers.choices import Availability, Carrier, ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.tests.factories import SimFactory

pytestmark = pytest.mark.django_db
URL = "/api/providers/register"


def payload(*sims, **extra):
    return {
        "sims": list(sims) or [{"msisdn": "010 234 567", "slot": 0}],
        "device": {"fcm_token": "token-" + "a" * 150, "platform": "android", "app_version": "1.0.0"},
        **extra,
    }


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def client(api_client_for, user):
    return api_client_for(user)


def test_registration_creates_a_pending_provider_with_sims_and_phone(client, user):
    response = client.post(
        URL,
        payload(
            {"msisdn": "010 234 567", "slot": 0},
            {"msisdn": "+855 97 234 5678", "slot": 1, "mcc_mnc": "456-08"},
            province="siem_reap",
            location={"lat": "13.361100", "lng": "103.860400"},
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["availability"], body["province"]) == ("pending", "offline", "siem_reap")
    assert body["location"] == {"lat": 13.3611, "lng": 103.8604}
    assert [(sim["msisdn"], sim["carrier"], sim["slot"]) for sim in body["sims"]] == [
        ("+85510234567", "smart", 0),
        ("+855972345678", "metfone", 1),
    ]
    # New SIMs start on warm-up caps, and nothing has been sent yet.
    assert body["sims"][0]["caps"]["warming_up"] is True and body["sims"][0]["sent"] == {"hour": 0, "day": 0}
    provider = Provider.objects.get(user=user)
    assert Device.objects.get(provider=provider).fcm_token.startswith("token-")
    assert not Sim.objects.filter(provider=provider, matchable=True).exists()  # pending: no work yet
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"provider.registered", "provider.sim_added", "provider.device_added"} <= actions


@override_settings(PROVIDER_AUTO_ACTIVATE=True)
def test_auto_activation_makes_the_provider_active_at_once(client):
    body = client.post(URL, payload(), format="json").json()
    assert body["status"] == ProviderStatus.ACTIVE
    assert Provider.objects.get().approved_at is not None


@pytest.mark.parametrize(
    ("msisdn", "code"),
    [
        ("12345", "phone_invalid"),
        ("not a number", "phone_invalid"),
        ("+44 7911 123456", "phone_region_not_allowed"),  # a British mobile
        ("023 990 123", "phone_not_mobile"),  # a Phnom Penh landline
    ],
)
def test_bad_or_foreign_numbers_are_refused_with_their_code(client, msisdn, code):
    response = client.post(URL, payload({"msisdn": msisdn, "slot": 0}), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Provider.objects.exists()  # nothing half-registered


def test_the_same_sim_twice_in_one_registration_is_refused(client):
    response = client.post(
        URL, payload({"msisdn": "010 234 567", "slot": 0}, {"msisdn": "+85510234567", "slot": 1}), format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "sim_duplicate")


def test_a_sim_another_provider_has_registered_is_refused(client):
    SimFactory(msisdn="+85510234567")
    response = client.post(URL, payload({"msisdn": "010 234 567", "slot": 0}), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "sim_already_registered")
    assert Provider.objects.count() == 1


def test_a_mcc_mnc_mismatch_is_flagged_and_the_sims_own_code_wins(client):
    # 077 is a Cellcard range; the SIM says Smart (456-06): ported, or the range data is old.
    body = client.post(URL, payload({"msisdn": "077 234 567", "slot": 0, "mcc_mnc": "45606"}), format="json").json()
    assert (body["sims"][0]["carrier"], body["sims"][0]["carrier_mismatch"]) == ("smart", True)
    sim = Sim.objects.get()
    assert (sim.carrier, sim.carrier_detected, sim.mcc_mnc) == (Carrier.SMART, Carrier.CELLCARD, "45606")


def test_an_agreeing_mcc_mnc_is_not_flagged(client):
    body = client.post(URL, payload({"msisdn": "077 234 567", "slot": 0, "mcc_mnc": "456-01"}), format="json").json()
    assert (body["sims"][0]["carrier"], body["sims"][0]["carrier_mismatch"]) == ("cellcard", False)


@pytest.mark.parametrize("mcc_mnc", ["310260", "45699"])
def test_a_foreign_or_unknown_mcc_mnc_is_refused(client, mcc_mnc):
    response = client.post(URL, payload({"msisdn": "077 234 567", "slot": 0, "mcc_mnc": mcc_mnc}), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "mcc_mnc_not_allowed")


def test_registering_twice_is_refused(client):
    assert client.post(URL, payload(), format="json").status_code == 201
    response = client.post(URL, payload({"msisdn": "097 234 5678", "slot": 0}), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "provider_already_registered")


@override_settings(PROVIDER_MAX_SIMS=1)
def test_more_sims_than_allowed_are_refused(client):
    response = client.post(
        URL, payload({"msisdn": "010 234 567", "slot": 0}, {"msisdn": "097 234 5678", "slot": 1}), format="json"
    )
    assert response.status_code == 400
    assert response.json()["details"]["fields"]["sims"][0]["code"] == "sim_limit_reached"


def test_malformed_payloads_name_the_fields(client):
    response = client.post(URL, {"sims": [], "device": {"platform": "windows"}, "province": "mars"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]["fields"]) == {"sims", "device", "province"}


def test_registration_needs_a_signed_in_user(api_client):
    response = api_client.post(URL, payload(), format="json")
    assert response.status_code == 401
    assert not Provider.objects.exists()


def test_a_provider_is_created_offline(client):
    client.post(URL, payload(), format="json")
    provider = Provider.objects.get()
    assert provider.availability == provider.chosen_availability == Availability.OFFLINE
