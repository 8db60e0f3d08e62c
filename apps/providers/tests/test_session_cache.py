"""A phone's session is cached in each process (apps.accounts.auth_cache); staff decisions on the provider still
apply on its very next request, because the provider's status is read with the provider, not the session."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.providers.choices import Carrier
from apps.providers.services import provider_ban, provider_suspend
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db
ME = "/api/providers/me"


@pytest.mark.parametrize("decision", [provider_suspend, provider_ban])
def test_a_suspension_or_ban_applies_on_the_next_request(api_client_for, decision):
    provider = provider_with_sim(Carrier.SMART)
    client = api_client_for(provider.user)
    assert client.get(ME).status_code == 200  # the session is now cached in this process
    decision(provider=provider, actor=UserFactory(is_staff=True), reason="test")
    response = client.patch(ME, {"availability": "online"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "provider_not_active")
