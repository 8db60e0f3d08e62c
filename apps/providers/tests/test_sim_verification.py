"""SIM ownership: a code sent to the SIM's number, typed back; through the network it never reaches the claimant."""

import pytest
from django.utils import timezone

from apps.accounts.tests.helpers import code_from
from apps.audit.models import AuditLog
from apps.core.crypto import blind_index
from apps.messaging.models import Job, Message
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim
from apps.providers.services import sim_verification_request
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db(transaction=True)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def provider():
    return provider_with_sim(Carrier.CELLCARD)


def urls(sim):
    base = f"/api/providers/me/sims/{sim.pk}"
    return f"{base}/verification", f"{base}/verify"


def test_code_to_the_sim_then_verified(provider, api_client_for, otp_outbox):
    sim = Sim.objects.get(provider=provider)
    request_url, verify_url = urls(sim)
    client = api_client_for(provider.user)
    response = client.post(request_url)
    assert response.status_code == 202 and response.json()["resend_after"] == 60
    assert otp_outbox[-1].phone == sim.msisdn and otp_outbox[-1].purpose == "sim_verification"
    code = code_from(otp_outbox[-1])

    bad = client.post(verify_url, {"code": wrong(code)}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "otp_invalid")
    good = client.post(verify_url, {"code": code}, format="json")
    assert good.status_code == 200 and good.json()["verified"] is True
    sim.refresh_from_db()
    assert sim.verified_at is not None
    assert AuditLog.objects.filter(action="provider.sim_verified", target_id=str(sim.pk)).exists()
    again = client.post(request_url)
    assert (again.status_code, again.json()["code"]) == (409, "sim_already_verified")


def test_a_login_code_does_not_verify_a_sim(provider, api_client_for, otp_outbox):
    sim = Sim.objects.get(provider=provider)
    client = api_client_for(provider.user)
    client.post("/api/auth/otp/request", {"phone": sim.msisdn}, format="json")
    login_code = code_from(otp_outbox[-1])
    response = client.post(urls(sim)[1], {"code": login_code}, format="json")
    assert response.json()["code"] == "otp_invalid"


def test_another_provider_cannot_verify_or_request_for_my_sim(provider, api_client_for, otp_outbox, api_client):
    sim = Sim.objects.get(provider=provider)
    other = api_client_for(provider_with_sim(Carrier.SMART).user)
    for client, status in ((other, 404), (api_client, 401)):
        assert client.post(urls(sim)[0]).status_code == status
        assert client.post(urls(sim)[1], {"code": "123456"}, format="json").status_code == status
    assert otp_outbox == []


def test_through_the_network_the_code_never_goes_to_the_claimant(provider, settings):
    settings.OTP_SENDER = "apps.messaging.otp.NetworkOtpSender"
    settings.OTP_FALLBACK_SENDER = ""  # codes wait on the trusted route
    Provider.objects.filter(pk=provider.pk).update(trusted=True)  # even a trusted claimant is never sent its own code
    sim = Sim.objects.get(provider=provider)
    sim_verification_request(sim=sim)
    message = Message.objects.get(to_hash=blind_index(sim.msisdn))  # the number is encrypted: found by its hash
    # The claimant is the only trusted provider: the code waits rather than go to them.
    assert dispatch(message) == "waiting"
    honest = provider_with_sim(Carrier.CELLCARD, trusted=True)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message).provider == honest
