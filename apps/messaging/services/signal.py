"""The dispatch signal, cheap enough for the ingest path.

After commit, one cache `add` per priority says "a dispatcher is on its way"; only when none is does it publish one
`dispatch_due` task on that priority's queue, to start DISPATCH_LINGER_MS later: messages submitted within that
window find the dispatcher already on its way and go out in its batch (one dispatch and one push task for all of
them, not one each, under light load). The database is the truth: the dispatcher takes whatever queued
messages are due, the broker only wakes it up (and `messages_reconcile`, in `leases`, signals again for messages
whose signal was lost).
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.messaging.choices import Priority

logger = logging.getLogger("peerpower.dispatch")

QUEUE_FOR_PRIORITY = {Priority.HIGH: "high", Priority.NORMAL: "default", Priority.LOW: "low"}
# How long "a dispatcher is on its way" holds back further signals. Only an optimisation: should that task be lost,
# the next signal after this long publishes another (and the reconciler would find the messages anyway).
SIGNAL_SECONDS = 10
# Delayed signals (backoff, scheduled messages) are rounded up to this grid, so that many messages due at about the
# same time share one delayed task.
SIGNAL_GRID_SECONDS = 1.0


def enqueue_dispatch(*, priority: str, countdown: float | None = None) -> None:
    """Signal the dispatcher of `priority`, after the current transaction commits, that queued messages are due
    (or will be in `countdown` seconds). No ids are sent: the dispatcher takes due messages from the database, so
    callers only need the rows committed with the right `next_attempt_at`."""
    transaction.on_commit(lambda: dispatch_signal(priority=priority, countdown=countdown))


def linger_seconds() -> float | None:
    """How long a dispatcher signalled for messages due now waits before it starts (None: it does not)."""
    return settings.DISPATCH_LINGER_MS / 1000 if settings.DISPATCH_LINGER_MS > 0 else None


def _pending_key(priority: str) -> str:
    return f"dispatch:pending:{priority}"


def dispatch_signal(*, priority: str, countdown: float | None = None, force: bool = False) -> bool:
    """Publish a `dispatch_due` task for `priority` unless one is already on its way (for a delayed signal: one due at
    the same moment of the grid). Returns whether a task was published. A cache failure publishes anyway.

    A signal for now lingers: the task starts DISPATCH_LINGER_MS later, and the "on its way" mark absorbs the signals
    of that window. `force` (a dispatcher carrying on with its own backlog) starts at once."""
    from apps.messaging.tasks import dispatch_due

    queue = QUEUE_FOR_PRIORITY[priority]
    if countdown is not None and countdown > SIGNAL_GRID_SECONDS / 2:
        slot = int(-(-(time.time() + countdown) // SIGNAL_GRID_SECONDS))  # rounded up to the grid
        key, timeout, countdown = (
            f"dispatch:at:{priority}:{slot}",
            int(countdown) + SIGNAL_SECONDS,
            max(slot * SIGNAL_GRID_SECONDS - time.time(), 0),
        )
    else:
        key, timeout = _pending_key(priority), SIGNAL_SECONDS
        countdown = None if force else linger_seconds()
    if not force:
        try:
            if not cache.add(key, 1, timeout=timeout):
                return False
        except Exception:
            logger.warning("dispatch signal: cache unavailable, publishing anyway", exc_info=True)
    dispatch_due.apply_async(args=[priority], queue=queue, countdown=countdown)
    return True


def dispatch_signal_received(*, priority: str) -> None:
    """A dispatcher of `priority` has started: signals from now on must publish again (it may already have read past
    the messages they are for)."""
    try:
        cache.delete(_pending_key(priority))
    except Exception:
        logger.warning("dispatch signal: cache unavailable", exc_info=True)
