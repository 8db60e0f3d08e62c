"""The dispatch signal, cheap enough for the ingest path.

After commit, one cache `add` per priority says "a dispatcher is on its way"; only when none is does it publish one
`dispatch_due` task on that priority's queue, to start DISPATCH_LINGER_MS later: messages submitted within that
window find the dispatcher already on its way and go out in its batch (one dispatch and one push task for all of
them, not one each, under light load). The database is the truth: the dispatcher takes whatever queued
messages are due, the broker only wakes it up (and `messages_reconcile`, in `leases`, signals again for messages
whose signal was lost).

The window others can join is shorter than the linger: the dispatcher takes the mark away DISPATCH_SIGNAL_GRACE_MS
before it reads (below), so a signal finds it on its way for the linger minus that grace — 30 ms of the default 50.
Signals for messages due now share one mark and one dispatcher whatever the messages' priority (the "together"
dispatcher: `dispatch_due` without a priority, on the `high` queue): it takes a batch of each priority, high first, in
one transaction (`messages_dispatch_due_together`), so a light mixed stream is one stream, not three thinner ones (at
25 messages/s weighted 2:6:2, three streams 200, 67 and 200 ms apart cost about three tasks where one does). A fixed
window short enough for the first message of a quiet spell still catches few of a stream 40 ms apart, so the linger
grows with the rate a process observes: a process that signalled less than DISPATCH_LINGER_BUSY_SECONDS ago (a
stream, not a lone message) publishes its dispatcher to read DISPATCH_LINGER_BUSY_MS after the signal instead. A lone
message still waits only DISPATCH_LINGER_MS; one of a stream waits longer for its dispatcher but shares it with the
stream's next ones.

Under heavy load each priority is a stream of its own, as before: a together dispatcher that finds a full batch of a
priority (a backlog) hands that priority to its own dispatcher on the priority's queue (`dispatch_hand_off`, one on
its way at a time, no linger), which carries on batch after batch (`force` when its time is up). So a low-priority
backlog runs on the `low` queue and never holds the together dispatcher, which reads high first every time; and a
high-priority backlog has its own dispatcher on `high`.

A signal refused because a dispatcher is on its way still costs its sender a round trip. So a starting dispatcher,
once it has taken the mark away, waits DISPATCH_SIGNAL_GRACE_MS before it reads (`dispatch_signal_received`), and a
process whose `add` was refused trusts that dispatcher with what it commits within that grace of asking: the
dispatcher took the mark after the refused `add` (the mark was there then), so it reads after the grace has run from
that moment, after those commits. Only durations are compared, each on one machine's monotonic clock. Under load most
sends of a process then make no signal round trip at all.

The single send asks earlier, and without a round trip of its own: its mark rides in the script that counts its
limits (`dispatch_mark`, before its row is written), as a counter that only this mark's key holds — created at 0 and
counted once by each asker, so a count of 1 means this send put the mark (`cache.add`'s mark is 1 already: any count
above 1 means one was there). The same reasoning then holds from the moment it asked: the mark was there (or this
send put it, and published its dispatcher at once), so whichever dispatcher takes it does so later, and reads after
the grace has run from then. A send that commits within that grace skips its signal; one that took longer (or whose
request failed: then the dispatcher published finds nothing of it) signals after commit as any other.

Within the grace of its last asking a process need not ask, unless its send would commit only after that grace has
run: then the send's own signal after commit would make a round trip (a `cache.add`) of its own. Such a send asks in
the counters' round trip instead, which it makes anyway. Whether it would is judged by the process's last asking
send: how long that one took from asking to its signal after commit (twice that, as sends vary).
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.core.counters import Count
from apps.messaging.choices import Priority

logger = logging.getLogger("peerpower.dispatch")

QUEUE_FOR_PRIORITY = {Priority.HIGH: "high", Priority.NORMAL: "default", Priority.LOW: "low"}
# The together dispatcher (every priority, high first) runs on the high queue: a high-priority message due now never
# waits behind the normal and low queues' work.
TOGETHER_QUEUE = QUEUE_FOR_PRIORITY[Priority.HIGH]
# The one stream of signals for messages due now, whatever their priority: the key of this process's bookkeeping below
# and of the shared "on its way" mark.
TOGETHER = "all"
# How long "a dispatcher is on its way" holds back further signals. Only an optimisation: should that task be lost,
# the next signal after this long publishes another (and the reconciler would find the messages anyway).
SIGNAL_SECONDS = 10
# Delayed signals (backoff, scheduled messages) are rounded up to this grid, so that many messages due at about the
# same time share one delayed task.
SIGNAL_GRID_SECONDS = 1.0


def enqueue_dispatch(*, priority: str, countdown: float | None = None) -> None:
    """Signal the dispatcher, after the current transaction commits, that queued messages of `priority` are due
    (or will be in `countdown` seconds). No ids are sent: the dispatcher takes due messages from the database, so
    callers only need the rows committed with the right `next_attempt_at`."""
    transaction.on_commit(lambda: dispatch_signal(priority=priority, countdown=countdown))


def linger_seconds(*, busy: bool = False) -> float | None:
    """How long a dispatcher signalled for messages due now waits before it starts (None: it does not): it reads
    DISPATCH_LINGER_MS after the signal (DISPATCH_LINGER_BUSY_MS, if longer, when `busy`: messages come as a stream,
    module docstring), so it starts the grace it waits after taking the mark sooner."""
    linger_ms = settings.DISPATCH_LINGER_MS
    if busy and settings.DISPATCH_LINGER_MS > 0:  # no linger at all stays none
        linger_ms = max(linger_ms, settings.DISPATCH_LINGER_BUSY_MS)
    linger = linger_ms - max(settings.DISPATCH_SIGNAL_GRACE_MS, 0)
    return linger / 1000 if linger > 0 else None


def _busy(stream: str, now: float) -> bool:
    """Whether this process signalled `stream` for messages due now less than DISPATCH_LINGER_BUSY_SECONDS before
    `now` (a stream: its next messages are likely within the longer linger); notes `now` as its latest signal."""
    previous = _signalled_at.get(stream)
    _signalled_at[stream] = now
    return previous is not None and now - previous < settings.DISPATCH_LINGER_BUSY_SECONDS


def _grace_seconds() -> float:
    return max(settings.DISPATCH_SIGNAL_GRACE_MS, 0) / 1000


# Per stream (TOGETHER: the signals for messages due now, every priority): when (this process's monotonic clock) an
# `add` was sent that found a dispatcher on its way, or a mark was asked for early that found one or put one and
# published its dispatcher (`dispatch_marked`).
_refused_at: dict[str, float] = {}
# Per stream: when the last early mark was asked for whose send has not signalled yet, and how long the last
# asking send took from asking to its signal after commit (`dispatch_mark` judges by it).
_asked_at: dict[str, float] = {}
_asked_span: dict[str, float] = {}
# Per stream: when this process last signalled for messages due now, refused or not (`_busy`), and whether the
# send that asked early (`_asked_at`) was a stream's.
_signalled_at: dict[str, float] = {}
_marked_busy: dict[str, bool] = {}
_clock = time.monotonic  # the monotonic clock; tests move it


def signal_clock() -> float:
    """This process's clock as the signals read it: a send's `asked` for `dispatch_marked`."""
    return _clock()


def _pending_key(stream: str) -> str:
    """The "on its way" mark of the together dispatcher (TOGETHER) or of a priority's own (`dispatch_hand_off`)."""
    return f"dispatch:pending:{stream}"


def dispatch_signal(*, priority: str, countdown: float | None = None, force: bool = False) -> bool:
    """Publish a together `dispatch_due` task (every priority, high first) unless one is already on its way (for a
    delayed signal: one due at the same moment of the grid). Returns whether a task was published. A cache failure
    publishes anyway. `priority` is the signalled messages' (checked; the dispatcher reads every priority).

    A signal for now lingers: the task starts DISPATCH_LINGER_MS later, and the "on its way" mark absorbs the signals
    of that window. `force` (a priority's dispatcher carrying on with its own backlog, the reconciler) publishes that
    priority's own dispatcher on its queue, at once."""
    from apps.messaging.tasks import dispatch_due

    queue = QUEUE_FOR_PRIORITY[priority]
    if force:
        dispatch_due.apply_async(args=[priority], queue=queue)
        return True
    stream = TOGETHER
    if countdown is not None and countdown > SIGNAL_GRID_SECONDS / 2:
        slot = int(-(-(time.time() + countdown) // SIGNAL_GRID_SECONDS))  # rounded up to the grid
        key, timeout, countdown = (
            f"dispatch:at:{slot}",
            int(countdown) + SIGNAL_SECONDS,
            max(slot * SIGNAL_GRID_SECONDS - time.time(), 0),
        )
    else:
        key, timeout = _pending_key(stream), SIGNAL_SECONDS
        if (asked := _asked_at.pop(stream, None)) is not None:
            _asked_span[stream] = _clock() - asked
            busy = _marked_busy.pop(stream, False)  # the signal of a send that asked early: not one more message
        else:
            busy = _busy(stream, _clock())
        countdown = linger_seconds(busy=busy)
        if _clock() < _refused_at.get(stream, float("-inf")) + _grace_seconds():
            return False  # what was committed before now, the dispatcher on its way reads (module docstring)
    try:
        asked = _clock()
        if not cache.add(key, 1, timeout=timeout):
            if key == _pending_key(stream):
                _refused_at[stream] = asked
            return False
    except Exception:
        logger.warning("dispatch signal: cache unavailable, publishing anyway", exc_info=True)
    dispatch_due.apply_async(args=[], queue=TOGETHER_QUEUE, countdown=countdown)
    return True


def dispatch_hand_off(*, priority: str) -> bool:
    """A together dispatcher found a backlog of `priority` (a full batch): publish that priority's own dispatcher on
    its queue, at once, unless one is already on its way (it takes its mark when it starts: after that, a hand-off
    publishes another, as a backlog may have outgrown it). Returns whether one was published."""
    from apps.messaging.tasks import dispatch_due

    try:
        if not cache.add(_pending_key(priority), 1, timeout=SIGNAL_SECONDS):
            return False
    except Exception:
        logger.warning("dispatch hand-off: cache unavailable, publishing anyway", exc_info=True)
    dispatch_due.apply_async(args=[priority], queue=QUEUE_FOR_PRIORITY[priority])
    return True


def dispatch_mark(*, priority: str) -> Count | None:
    """The "on its way" mark for messages due now, as a counter for the round trip that counts a send's limits
    (module docstring); None when this process need not ask (within the grace of its last asking, and the send
    expected to commit within it too), when there is no grace to trust (every signal then asks after commit) or for
    an unknown priority (refused later). Inside a transaction too: its caller may still roll it back, and a
    dispatcher published at once would then be for nothing (the API's single send runs outside any, its one
    statement committing by itself)."""
    if priority not in QUEUE_FOR_PRIORITY or _grace_seconds() <= 0 or transaction.get_connection().in_atomic_block:
        return None
    expected = 2 * _asked_span.get(TOGETHER, 0.0)  # this send's time to its signal, judged by the last asking one's
    if _clock() + expected < _refused_at.get(TOGETHER, float("-inf")) + _grace_seconds():
        return None
    return Count(key=_pending_key(TOGETHER), amount=1, timeout=SIGNAL_SECONDS)


def dispatch_marked(*, priority: str, asked: float, count: int) -> None:
    """The early mark `dispatch_mark` gave was counted: `asked`, this process's clock just before the round trip;
    `count`, the mark's count after it. Whoever put the mark, a dispatcher takes it after `asked`: this process's
    signals within the grace from then trust it. A count of 1: this send put the mark and publishes the together
    dispatcher now, lingering as a signal after commit would."""
    from apps.messaging.tasks import dispatch_due

    _refused_at[TOGETHER] = asked
    _asked_at[TOGETHER] = asked
    busy = _marked_busy[TOGETHER] = _busy(TOGETHER, asked)
    if count == 1:
        countdown = linger_seconds(busy=busy)
        dispatch_due.apply_async(args=[], queue=TOGETHER_QUEUE, countdown=countdown)


def dispatch_signal_received(*, priority: str | None = None) -> None:
    """A dispatcher has started — the together one (`priority` None) or `priority`'s own: signals (hand-offs) from now
    on must publish again (it may already have read past the messages they are for). The together one returns once
    the grace of the signals refused before has run out: they trust this dispatcher to read what their processes
    commit within it (module docstring). A priority's own is only ever handed off to, by dispatchers that read."""
    try:
        cache.delete(_pending_key(priority or TOGETHER))
    except Exception:
        logger.warning("dispatch signal: cache unavailable", exc_info=True)
    if priority is None and _grace_seconds() > 0:
        time.sleep(_grace_seconds())


def dispatch_signals_forget() -> None:
    """Forget the signals this process found refused (what another process, which never asked, looks like): with the
    shared cache emptied, as between tests."""
    _refused_at.clear()
    _asked_at.clear()
    _asked_span.clear()
    _signalled_at.clear()
    _marked_busy.clear()
