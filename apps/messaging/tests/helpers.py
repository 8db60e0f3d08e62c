"""Helpers for tests that need a message dispatched the way production does it."""

from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.services import messages_dispatch_due


def dispatch(message: Message) -> str:
    """Run one batch of the dispatcher of `message`'s priority (the `dispatch_due` task's work) and say what became
    of this message: "assigned", "waiting" (no capacity: backing off), "expired", or "skipped" (not taken: not
    queued, or not due yet)."""
    before = Message.objects.get(pk=message.pk)
    messages_dispatch_due(priority=before.priority)
    after = Message.objects.get(pk=message.pk)
    if before.status != MessageStatus.QUEUED:
        return "skipped"
    if after.status == MessageStatus.ASSIGNED:
        return "assigned"
    if after.status == MessageStatus.EXPIRED:
        return "expired"
    if after.dispatch_tries > before.dispatch_tries:
        return "waiting"
    return "skipped"
