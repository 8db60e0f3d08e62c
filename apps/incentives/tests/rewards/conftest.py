"""Incentives fixtures: a message delivered the way production delivers it (submitted, dispatched to a provider's
phone, acknowledged and reported delivered through the API)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim


@pytest.fixture
def established(settings):
    """Providers are past their establishment period at once (tests of establishment turn it back on)."""
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 0
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 0


@pytest.fixture
def organization():
    return client_create(user=UserFactory(), name="Acme")


@pytest.fixture
def provider() -> Provider:
    # 012 numbers are Cellcard's: a Cellcard SIM sends on-net.
    return provider_with_sim(Carrier.CELLCARD)


@pytest.fixture
def deliver(organization, api_client_for) -> Callable[..., Job]:
    """`deliver(body=..., to=...)`: submit a message, dispatch it, and have the chosen phone acknowledge and report it
    delivered (a plausible while after the offer); the job."""

    def run(*, body: str = "Hi", to: str = "012 345 678", priority: str = "normal") -> Job:
        message = message_submit(
            organization=organization, api_key=None, data=MessageInput(to=to, body=body, priority=priority)
        )
        assert dispatch(message) == "assigned"
        job = Job.objects.select_related("provider__user").get(message=message)
        phone = api_client_for(job.provider.user)
        assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
        occurred = timezone.now().isoformat().replace("+00:00", "Z")
        response = phone.post(
            f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json"
        )
        assert response.status_code == 200, response.json()
        return job

    return run
