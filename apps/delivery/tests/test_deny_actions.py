"""The fraud flag list's deny-list actions: the flagged providers' SIM numbers, devices and account numbers go on the
deny-list before they are taken out of service, so they cannot simply register again."""

import pytest

from apps.accounts.models import DenyListEntry
from apps.accounts.tests.factories import UserFactory
from apps.core.crypto import blind_index
from apps.delivery.models import FraudFlag
from apps.providers.choices import ProviderStatus
from apps.providers.models import Device, Sim
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


def test_the_fraud_flag_actions_list_the_values_so_they_cannot_come_back(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    provider = provider_with_sim(status=ProviderStatus.ACTIVE)
    sim, device = provider.sims.get(), provider.devices.get()
    flag = FraudFlag.objects.create(provider=provider, rule="fast_delivery", strike=True)
    client.force_login(staff)
    for action in ("deny_sims", "deny_devices", "deny_phones"):
        response = client.post(
            "/admin/delivery/fraudflag/", {"action": action, "_selected_action": [flag.pk]}, follow=False
        )
        assert response.status_code == 302
    listed = set(DenyListEntry.objects.values_list("kind", "value"))
    assert listed == {  # numbers are listed as their keyed hash only
        ("sim", "hash:" + blind_index(sim.msisdn)),
        ("device", device.fcm_token),
        ("phone", "hash:" + blind_index(provider.user.phone)),
    }
    assert not Sim.objects.filter(pk=sim.pk, active=True).exists() and not Device.objects.filter(pk=device.pk).exists()
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.BANNED
