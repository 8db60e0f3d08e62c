"""A phone's seal key (the HPKE public key its job pushes are sealed to): registered with its FCM token, at
registration or later; each registration states the current key; anything but an X25519 public key is refused with
400 `seal_key_invalid` and nothing is written."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.providers.models import Device, Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

DEVICES = "/api/providers/me/devices"


def new_key() -> bytes:
    return (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def register(client, device: Device, seal_key: str | None):
    data = {"fcm_token": device.fcm_token, "platform": "android", "app_version": "2.0"}
    if seal_key is not None:
        data["seal_key"] = seal_key
    return client.post(DEVICES, data, format="json")


def test_a_key_is_kept_replaced_by_a_new_one_and_removed_by_a_registration_without_one(api_client_for):
    provider = provider_with_sim()
    device, client = provider.devices.get(), api_client_for(provider.user)
    first, second = new_key(), new_key()
    assert register(client, device, base64.b64encode(first).decode()).status_code == 200
    device.refresh_from_db()
    assert device.seal_key == base64.b64encode(first).decode()
    # URL-safe and unpadded base64 is the same key, stored in the standard alphabet.
    assert register(client, device, base64.urlsafe_b64encode(second).decode().rstrip("=")).status_code == 200
    device.refresh_from_db()
    assert base64.b64decode(device.seal_key) == second
    changes = AuditLog.objects.filter(action="provider.device_updated", target_id=str(device.pk)).order_by("pk")
    fingerprints = [(entry.before["seal_key"], entry.after["seal_key"]) for entry in changes]
    assert len(fingerprints) == 2 and fingerprints[0][0] == "" and fingerprints[1][0] == fingerprints[0][1] != ""
    assert base64.b64encode(second).decode() not in str(changes.last().after)  # a fingerprint, not the key
    assert register(client, device, None).status_code == 200
    device.refresh_from_db()
    assert device.seal_key == ""


@pytest.mark.parametrize(
    ("seal_key", "reason"),
    [
        ("not base64!", "not_base64"),
        (base64.b64encode(b"k" * 31).decode(), "length"),
        (base64.b64encode(b"k" * 33).decode(), "length"),
        (base64.b64encode(bytes(32)).decode(), "low_order"),  # all zeros: a shared secret of zeros
    ],
)
def test_anything_but_an_x25519_public_key_is_refused(api_client_for, seal_key, reason):
    provider = provider_with_sim()
    device = provider.devices.get()
    response = register(api_client_for(provider.user), device, seal_key)
    assert (response.status_code, response.json()["code"]) == (400, "seal_key_invalid")
    assert response.json()["details"]["reason"] == reason
    device.refresh_from_db()
    assert device.seal_key == ""


def test_a_key_at_registration_is_stored_and_a_bad_one_registers_nothing(api_client_for):
    user = UserFactory()
    body = {
        "sims": [{"msisdn": "012 345 678", "slot": 0, "mcc_mnc": "456-01"}],
        "device": {"fcm_token": "token-" + "s" * 20, "platform": "android", "app_version": "1.0", "seal_key": "AAAA"},
    }
    response = api_client_for(user).post("/api/providers/register", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "seal_key_invalid")
    assert not Provider.objects.filter(user=user).exists()

    key = base64.b64encode(new_key()).decode()
    body["device"]["seal_key"] = key
    assert api_client_for(user).post("/api/providers/register", body, format="json").status_code == 201
    assert Device.objects.get(provider__user=user).seal_key == key


def test_staff_see_whether_a_phone_has_a_key(api_client_for, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    provider = provider_with_sim()
    bare_page = client.get(
        reverse("admin:providers_provider_change", args=[provider.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'alt="false"' in bare_page.split("sealed pushes", 1)[-1].lower()
    register(api_client_for(provider.user), provider.devices.get(), base64.b64encode(new_key()).decode())
    page = client.get(reverse("admin:providers_provider_change", args=[provider.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert 'alt="true"' in page.content.decode().lower().split("sealed pushes", 1)[-1]
    assert provider.devices.get().seal_key not in page.content.decode()
