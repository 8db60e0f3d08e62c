"""Events messaging publishes for the apps above it (`apps.core.events`). Messaging never imports its subscribers."""

from dataclasses import dataclass

from apps.messaging.models import Message


@dataclass(frozen=True, slots=True)
class MessageStatusChanged:
    """A message reached a status its client is told about (`apps.messaging.state.CLIENT_NOTIFIED`).

    Published by `message_transition` inside the caller's transaction, right after the row changed, with the message
    as it now is. Delivery subscribes to store the client's webhook event (`apps.delivery.webhooks`)."""

    message: Message
    status: str
