"""A message's validity ends on time for whoever reads it.

The reconciler (`messages_reconcile`, every 30 s) expires a waiting message only once its next dispatch try is
overdue, and a message with no capacity waits in an exponential backoff of up to minutes: without more, a message
past its validity kept reading `queued` for that long. Readers (the client's status API, the admin) therefore
expire what they are about to show: a held or queued message whose `expires_at` has passed moves to `expired`
before it is shown.

Why a real move and not a computed "effective status": the status a client reads, the one the admin filters on,
and the webhook the client gets then agree at once, and nothing is expired twice. The move is the sweep's own
(`message_transition` to `expired`, reason `validity_ended`): a conditional update on the status the reader saw,
so it is legal, the sweep or the dispatcher racing it changes nothing (the loser gets False), and the client's
`message.expired` webhook event is stored once, in the same transaction. Like the sweep's move it is a routine
system move: recorded on the message, not in the audit log.

Only held and queued messages: an assigned or sent one has a live lease whose deadline already ends at the
message's validity, and its expiry must also end the job and free the provider's capacity (the lease sweep does).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.state import message_transition

EXPIRES_ON_READ = frozenset({MessageStatus.HELD, MessageStatus.QUEUED})
# What a transition writes, read back when another process moved the message first.
_STATUS_FIELDS = ["status", "status_reason", "finished_at", "updated_at"]


def messages_expire_overdue(*, messages: Iterable[Message], now: datetime | None = None) -> int:
    """Expire those of `messages` (as loaded for reading) that are held or queued past their validity, updating
    the objects in place so the caller shows the new status. Returns how many this call expired.

    Costs nothing (no query) when none is overdue, which is nearly always: the check runs on the loaded rows.
    """
    now = now or timezone.now()
    expired = 0
    for message in messages:
        if message.status not in EXPIRES_ON_READ or message.expires_at > now:
            continue
        with transaction.atomic():
            moved = message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
        if moved:
            expired += 1
        else:
            message.refresh_from_db(fields=_STATUS_FIELDS)  # the sweep, the dispatcher or staff moved it first
    return expired
