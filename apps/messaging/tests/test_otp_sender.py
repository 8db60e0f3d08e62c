"""OTP codes sent through the PeerPower network itself."""

import pytest

from apps.accounts.models import ClientOrganization
from apps.accounts.services import otp_request
from apps.messaging.models import Message
from apps.messaging.otp import system_client
from apps.messaging.services import opt_out_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def network_sender(settings):
    settings.OTP_SENDER = "apps.messaging.otp.NetworkOtpSender"
    settings.OTP_FALLBACK_SENDER = ""  # no fallback: codes wait on the trusted route (test_trusted_route has both)


def test_an_otp_becomes_a_high_priority_message_of_the_system_client(settings):
    otp_request(phone="012 345 678")
    message = Message.objects.get()
    assert message.organization == system_client()
    assert (message.to, message.priority, message.status) == ("+85512345678", "high", "queued")
    assert message.reference == "otp:login"
    assert (message.expires_at - message.created_at).total_seconds() == pytest.approx(settings.OTP_TTL_SECONDS, abs=2)
    assert any("\u1780" <= char <= "\u17ff" for char in message.text)  # Khmer text by default (sealed at rest)
    assert ClientOrganization.objects.filter(is_system=True).count() == 1


def test_an_opted_out_phone_gets_no_message_and_no_error():
    opt_out_add(phone="+85512345678", source="staff")
    otp_request(phone="012 345 678")  # does not raise
    assert not Message.objects.exists()
