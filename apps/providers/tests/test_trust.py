"""The trusted pool and trust levels: which phones matching may offer a restricted message to; staff changes audited."""

import pytest
from django.urls import reverse

from apps.accounts.models import User
from apps.audit.models import AuditLog
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.services.trust import provider_trust_set
from apps.providers.tests.factories import match_one, provider_with_sim
from apps.providers.trust import Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    return User.objects.create_superuser("+85512000999", "admin-pw-for-tests")


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_trusted_route_matches_only_trusted_providers():
    ordinary = provider_with_sim(Carrier.SMART)
    assert match_one(recipient_carrier=Carrier.SMART, route=Route(trusted_only=True)) is None
    trusted = provider_with_sim(Carrier.SMART, trusted=True)
    for _ in range(3):
        assignment = match_one(recipient_carrier=Carrier.SMART, route=Route(trusted_only=True))
        assert assignment.provider_id == trusted.pk != ordinary.pk
        Provider.objects.update(jobs_in_flight=0)


def test_a_trust_level_route_matches_providers_at_or_above_it():
    provider_with_sim(Carrier.SMART, trust_level=40)
    assert match_one(recipient_carrier=Carrier.SMART, route=Route(min_trust_level=50)) is None
    vetted = provider_with_sim(Carrier.SMART, trust_level=50)
    assert match_one(recipient_carrier=Carrier.SMART, route=Route(min_trust_level=50)).provider_id == vetted.pk


def test_the_open_route_takes_anyone():
    provider = provider_with_sim(Carrier.SMART)
    assert match_one(recipient_carrier=Carrier.SMART).provider_id == provider.pk


def test_a_sticky_sender_outside_the_trusted_pool_is_passed_over():
    from apps.providers.services import sticky_sender_remember

    ordinary = provider_with_sim(Carrier.SMART)
    sticky_sender_remember(
        client_ref="7", recipient="+85510999999", provider_id=ordinary.pk, sim_id=ordinary.sims.get().pk
    )
    request = {"recipient_carrier": Carrier.SMART, "client_ref": "7", "recipient": "+85510999999"}
    assert match_one(**request).provider_id == ordinary.pk
    Provider.objects.update(jobs_in_flight=0)
    assert match_one(**request, route=Route(trusted_only=True)) is None


def test_staff_trust_changes_are_audited(staff_user):
    provider = provider_with_sim(Carrier.SMART)
    assert provider_trust_set(provider=provider, actor=staff_user, trusted=True, level=75) is True
    assert provider_trust_set(provider=provider, actor=staff_user, trusted=True) is False  # nothing changed
    provider.refresh_from_db()
    assert (provider.trusted, provider.trust_level) == (True, 75)
    audit = AuditLog.objects.get(action="provider.trust_changed")
    assert audit.before == {"trusted": False, "trust_level": 0} and audit.after == {"trusted": True, "trust_level": 75}
    with pytest.raises(ValueError):
        provider_trust_set(provider=provider, actor=staff_user, level=101)


def test_admin_actions_set_the_pool_and_levels(admin_client):
    provider = provider_with_sim(Carrier.SMART)
    url = reverse("admin:providers_provider_changelist")
    admin_client.post(url, {"action": "trust", "_selected_action": [provider.pk]})
    admin_client.post(url, {"action": "trust_level_50", "_selected_action": [provider.pk]})
    provider.refresh_from_db()
    assert (provider.trusted, provider.trust_level) == (True, 50)
    assert AuditLog.objects.filter(action="provider.trust_changed").count() == 2
