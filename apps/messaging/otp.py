"""OTP codes sent through the PeerPower network itself (OTP_SENDER=apps.messaging.otp.NetworkOtpSender).

The code becomes an ordinary high-priority message of PeerPower's own system client: matched to a provider on the
recipient's carrier, leased, pushed and reported like any other, with validity equal to the code's lifetime.
"""

import logging

from django.conf import settings

from apps.accounts.models import ClientOrganization
from apps.accounts.otp import OtpMessage, OtpSender
from apps.accounts.services import organization_system_get_or_create
from apps.core.errors import DomainError
from apps.messaging.choices import Priority
from apps.messaging.services import MessageInput, message_submit

logger = logging.getLogger("peerpower.otp")


def system_client() -> ClientOrganization:
    """PeerPower's own client organisation, created on first use (by accounts, which owns it)."""
    return organization_system_get_or_create()


class NetworkOtpSender(OtpSender):
    def send(self, message: OtpMessage) -> None:
        try:
            self._submit(message)
        except DomainError as error:
            # The recipient opted out of the network, say: the person asking cannot be helped by an exception here.
            logger.warning("OTP to %s not sent: %s", message.phone, error.code)

    @staticmethod
    def _submit(message: OtpMessage) -> None:
        message_submit(
            organization=system_client(),
            api_key=None,
            data=MessageInput(
                to=message.phone,
                body=message.text,
                priority=Priority.HIGH,
                reference=f"otp:{message.purpose}",
                validity_seconds=settings.OTP_TTL_SECONDS,
            ),
            trusted=True,  # our own text: no client limits, no content filter
        )
