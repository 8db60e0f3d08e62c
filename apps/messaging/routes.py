"""Which phones may carry a message, decided when it is accepted and applied when it is matched.

- `trusted`: PeerPower's own codes (sign-in, SIM ownership) and messages a client marks `sensitive: true` (codes,
  banking). Only the trusted pool (providers staff mark trusted) may send them; the body is sealed at rest
  (apps.messaging.sealing), and a client pays MESSAGE_SENSITIVE_PRICE_BP of the ordinary price for it.
- `vetted`: a message the content filter reads as a one-time code (apps.messaging.filtering.codes): only providers
  whose staff-set trust level reaches PROVIDER_CODE_MIN_TRUST_LEVEL.
- `open`: everything else, any eligible provider.
Trusted and vetted messages may go cross-carrier at any priority: those pools are small, and a code that waits for
an on-net trusted SIM is a code that expires.
"""

from django.conf import settings

from apps.messaging.choices import MessageRoute
from apps.messaging.filtering.codes import looks_like_code
from apps.messaging.models import Message
from apps.messaging.sealing import seal
from apps.providers.trust import OPEN, Route


def message_route(*, sensitive: bool, text: str) -> str:
    """The route of a message being accepted: `text` is the client's own words (or ours, for our codes)."""
    if sensitive:
        return MessageRoute.TRUSTED
    if looks_like_code(text):
        return MessageRoute.VETTED
    return MessageRoute.OPEN


def message_route_apply(message: Message) -> None:
    """Seal the body of an unsaved message on the trusted route (segments were counted on the plain text)."""
    if message.route == MessageRoute.TRUSTED:
        message.body = seal(message.body)


def match_route(message: Message) -> Route:
    """What matching must ask of a phone for this message."""
    if message.route == MessageRoute.TRUSTED:
        return Route(trusted_only=True)
    if message.route == MessageRoute.VETTED:
        return Route(min_trust_level=settings.PROVIDER_CODE_MIN_TRUST_LEVEL)
    return OPEN


def cross_carrier_override(message: Message) -> bool | None:
    """True for routes that restrict phones (see the module docstring); None leaves matching's own rule."""
    return True if match_route(message).restricted else None
