"""OTP codes sent through the PeerPower network itself (OTP_SENDER=apps.messaging.otp.NetworkOtpSender).

The code becomes a high-priority `sensitive` message of PeerPower's own system client: it travels the trusted route
only (providers staff put in the trusted pool; apps.messaging.routes), its body is sealed at rest, and its validity
equals the code's lifetime. An ordinary provider never sees it: the phone that sends a sign-in code sees the number
and the code. When no trusted phone can take work now, the code goes through OTP_FALLBACK_SENDER instead (an
aggregator's sender, say) if one is configured, else waits on the trusted route; never through the open network.
"""

import logging

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.accounts.otp import OtpMessage, OtpSender, get_otp_sender
from apps.accounts.services import organization_system_get_or_create
from apps.core.errors import DomainError
from apps.messaging.choices import Priority
from apps.messaging.services import MessageInput, message_submit
from apps.providers.choices import Carrier
from apps.providers.selectors import sims_for_matching
from apps.providers.trust import Route

logger = logging.getLogger("peerpower.otp")


def system_client() -> ClientOrganization:
    """PeerPower's own client organisation, created on first use (by accounts, which owns it)."""
    return organization_system_get_or_create()


def trusted_pool_available() -> bool:
    """Whether a trusted phone (any carrier) can take a job now."""
    return bool(sims_for_matching(carriers=Carrier.values, now=timezone.now(), limit=1, route=Route(trusted_only=True)))


class NetworkOtpSender(OtpSender):
    def send(self, message: OtpMessage) -> None:
        if settings.OTP_FALLBACK_SENDER and not trusted_pool_available():
            logger.info("No trusted phone online: OTP (%s) goes through the fallback sender", message.purpose)
            get_otp_sender(settings.OTP_FALLBACK_SENDER).send(message)
            return
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
                sensitive=True,
            ),
            trusted=True,  # our own text: no client limits, no content filter
        )
