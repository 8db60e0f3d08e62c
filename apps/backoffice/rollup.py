"""Keeps `MessageRollup` (hourly message figures) current, so the dashboard reads a few thousand small rows instead of
a million messages.

How: messaging publishes `MessagesAccepted` (a send or bulk batch stored) and `MessageStatusChanged` (a message
reached sent, delivered, failed, expired, rejected or unknown). The handlers below add the message to its hour's
rows with ONE multi-row upsert (`INSERT … ON CONFLICT DO UPDATE SET messages = messages + excluded.messages …`),
run after the commit (`transaction.on_commit`), in autocommit:
- nothing is counted for a move that rolled back;
- the counter rows are locked only for that one statement, never for the rest of the sender's transaction, so the
  send and report paths do not queue behind each other on a hot counter row; rows are written in key order, so two
  upserts cannot deadlock.
- each process adds up what its commits counted and writes it at most every ROLLUP_FLUSH_SECONDS (a timer thread
  of the process, and at exit): one upsert a second for a web process accepting hundreds of messages a second,
  instead of one per send, on rows every send would otherwise update in turn. The dashboard trails by that long.
  With ROLLUP_FLUSH_SECONDS 0 (the tests) each commit writes its own sums at once.
The price: a process killed between its commit and the upsert (or within the flush interval) loses those counts.
`rollup_rebuild` (the `backoffice_rollup_rebuild` command and the nightly `backoffice.rollup_repair` task) recomputes
whole hours from the messages and replaces them, which also fills the table for a database that had messages before
this existed.
"""

import atexit
import bisect
import logging
import os
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, DurationField, ExpressionWrapper, F, Sum, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone

from apps.backoffice.models import MessageRollup
from apps.messaging.events import MessagesAccepted, MessagesStatusChanged, MessageStatusChanged
from apps.messaging.selectors import messages_reaching

logger = logging.getLogger("peerpower.backoffice")

SUBMITTED = "submitted"
# Upper bounds, in seconds, of the submit→delivered buckets; the last bucket is everything above 2 hours.
LATENCY_BUCKETS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600, 7200)
# The moment each counted status is reached, as kept on the message (the others finish at `finished_at`).
MOMENT = {"sent": "sent_at", "delivered": "delivered_at"}
COUNTED = frozenset({"sent", "delivered", "failed", "expired", "rejected", "unknown"})

Key = tuple[datetime, str, str, str, int, int]
Sums = list[int]  # messages, segments, charged, latency_ms


def latency_bucket(seconds: float) -> int:
    """The index of the bucket `seconds` falls in (bucket i holds LATENCY_BUCKETS[i-1] < s <= LATENCY_BUCKETS[i])."""
    return bisect.bisect_left(LATENCY_BUCKETS, seconds)


def hour_of(moment: datetime) -> datetime:
    # Cambodia is UTC+7 all year, so UTC hours are local hours too.
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _count(
    sums: dict[Key, Sums],
    *,
    event: str,
    at: datetime,
    carrier: str,
    priority: str,
    organization_id: int,
    segments: int,
    charged: int = 0,
    latency_ms: int = 0,
) -> None:
    hour = hour_of(at)
    values = (1, segments, charged, latency_ms)
    keys: list[Key] = [
        (hour, event, "", "", 0, -1),
        (hour, event, carrier, priority, 0, -1),
        (hour, event, "", "", organization_id, -1),
    ]
    if event == "delivered":
        keys.append((hour, event, carrier, "", 0, latency_bucket(latency_ms / 1000)))
    for key in keys:
        row = sums.setdefault(key, [0, 0, 0, 0])
        for index, value in enumerate(values):
            row[index] += value


def _count_status(sums: dict[Key, Sums], *, status: str, at: datetime, **message: object) -> None:
    created_at, delivered_at = message.pop("created_at"), message.pop("delivered_at")
    latency_ms = 0
    if status == "delivered" and delivered_at is not None:
        latency_ms = max(0, int((delivered_at - created_at).total_seconds() * 1000))  # type: ignore[operator]
    if status != "delivered":
        message["charged"] = 0
    _count(sums, event=status, at=at, latency_ms=latency_ms, **message)  # type: ignore[arg-type]


def rollup_add(sums: dict[Key, Sums]) -> None:
    """Add `sums` to their rows in one statement (creating the rows that do not exist yet)."""
    if not sums:
        return
    table = MessageRollup._meta.db_table
    keys = sorted(sums)
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(keys))
    params: list[object] = []
    for key in keys:
        hour, *rest = key
        params += [connection.ops.adapt_datetimefield_value(hour), *rest, *sums[key]]
    added = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in _SUMS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(_KEY + _SUMS)}) VALUES {placeholders} "  # noqa: S608 - names are ours
            f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {added}",
            params,
        )


_KEY = ("hour", "event", "carrier", "priority", "organization_id", "latency_bucket")
_SUMS = ("messages", "segments", "charged", "latency_ms")


class _Pending:
    """This process's sums not yet written, and the timer that will write them. Reset in a forked child (the
    parent's sums are the parent's to write)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sums: dict[Key, Sums] = {}
        self.timer: threading.Timer | None = None
        self.pid = os.getpid()


_pending = _Pending()


def _merge(into: dict[Key, Sums], sums: dict[Key, Sums]) -> None:
    for key, values in sums.items():
        row = into.setdefault(key, [0, 0, 0, 0])
        for index, value in enumerate(values):
            row[index] += value


def _defer(sums: dict[Key, Sums]) -> None:
    """Committed sums: written now (ROLLUP_FLUSH_SECONDS 0), or added to this process's pending sums, which a timer
    writes in one upsert within ROLLUP_FLUSH_SECONDS."""
    seconds = settings.ROLLUP_FLUSH_SECONDS
    if seconds <= 0:
        rollup_add(sums)
        return
    with _pending.lock:
        if _pending.pid != os.getpid():
            _pending.sums, _pending.timer, _pending.pid = {}, None, os.getpid()
        _merge(_pending.sums, sums)
        if _pending.timer is None:
            _pending.timer = threading.Timer(seconds, _flush_from_timer)
            _pending.timer.daemon = True
            _pending.timer.start()


def rollup_flush() -> int:
    """Write this process's pending sums now, in one upsert; returns how many rows it touched."""
    with _pending.lock:
        sums, _pending.sums = _pending.sums, {}
        if _pending.timer is not None:
            _pending.timer.cancel()
            _pending.timer = None
    rollup_add(sums)
    return len(sums)


def _flush_from_timer() -> None:
    try:
        rollup_flush()
    except Exception:
        # Lost until the nightly repair rebuilds the hour; a flush must never take the process down.
        logger.exception("rollup flush failed")
    finally:
        connection.close()  # the timer thread's own connection


@atexit.register
def _flush_at_exit() -> None:
    if _pending.sums and _pending.pid == os.getpid():
        _flush_from_timer()


def rollup_on_accepted(event: MessagesAccepted) -> None:
    """Count submitted messages once their rows are committed."""
    sums: dict[Key, Sums] = {}
    for message in event.messages:
        _count(
            sums,
            event=SUBMITTED,
            at=message.created_at,
            carrier=message.carrier,
            priority=message.priority,
            organization_id=message.organization_id,
            segments=message.segments,
        )
        if message.status == "rejected":  # refused by the content filter at accept: stored already final
            _count_status(
                sums,
                status="rejected",
                at=message.finished_at or message.created_at,
                created_at=message.created_at,
                delivered_at=None,
                carrier=message.carrier,
                priority=message.priority,
                organization_id=message.organization_id,
                segments=message.segments,
                charged=0,
            )
    transaction.on_commit(lambda: _defer(sums))


def rollup_on_status_changed(event: MessageStatusChanged) -> None:
    """Count a message reaching a status the dashboard shows, once the move is committed."""
    _rollup_statuses([event.message], status=event.status)


def rollup_on_statuses_changed(event: MessagesStatusChanged) -> None:
    """Count messages that reached a status together (one bulk move), in one upsert once it is committed."""
    _rollup_statuses(event.messages, status=event.status)


def _rollup_statuses(messages: list[Any], *, status: str) -> None:
    if status not in COUNTED:
        return
    sums: dict[Key, Sums] = {}
    for message in messages:
        at = getattr(message, MOMENT.get(status, "finished_at"), None) or timezone.now()
        _count_status(
            sums,
            status=status,
            at=at,
            created_at=message.created_at,
            delivered_at=message.delivered_at,
            carrier=message.carrier,
            priority=message.priority,
            organization_id=message.organization_id,
            segments=message.segments,
            charged=message.price_charged or 0,
        )
    transaction.on_commit(lambda: _defer(sums))


def _rebuilt(since: datetime, until: datetime) -> dict[Key, Sums]:
    """Every row of the hours in [since, until), from the messages, in grouped queries (three per kind of moment)."""
    sums: dict[Key, Sums] = defaultdict(lambda: [0, 0, 0, 0])

    def add(key: Key, row: dict[str, Any], *, charged: bool = False, took: bool = False) -> None:
        values = (
            row["n"],
            row["segments"] or 0,
            (row["charged"] or 0) if charged else 0,
            int(row["took"].total_seconds() * 1000) if took and row["took"] else 0,
        )
        for index, value in enumerate(values):
            sums[key][index] += value

    took = ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField())
    totals = {"n": Count("id"), "segments": Sum("segments"), "charged": Sum("price_charged"), "took": Sum(took)}
    bucket = Case(
        *(When(took__lte=timedelta(seconds=bound), then=Value(index)) for index, bound in enumerate(LATENCY_BUCKETS)),
        default=Value(len(LATENCY_BUCKETS)),
    )
    moments = [(SUBMITTED, "created_at", None), ("sent", "sent_at", None), ("delivered", "delivered_at", "delivered")]
    moments += [(status, "finished_at", status) for status in sorted(COUNTED - {"sent", "delivered"})]
    for event, field, status in moments:
        messages = messages_reaching(field=field, since=since, until=until)
        if status:
            messages = messages.filter(status=status)
        hourly = messages.annotate(hour=Trunc(field, "hour", tzinfo=UTC))
        money = {"charged": event == "delivered", "took": event == "delivered"}
        for row in hourly.values("hour", "carrier", "priority").annotate(**totals).order_by():
            add((row["hour"], event, "", "", 0, -1), row, **money)
            add((row["hour"], event, row["carrier"], row["priority"], 0, -1), row, **money)
        for row in hourly.values("hour", "organization_id").annotate(**totals).order_by():
            add((row["hour"], event, "", "", row["organization_id"], -1), row, **money)
        if event == "delivered":
            latency = hourly.annotate(took=took).annotate(bucket=bucket)
            for row in latency.values("hour", "carrier", "bucket").annotate(**totals).order_by():
                add((row["hour"], event, row["carrier"], "", 0, row["bucket"]), row, **money)
    return sums


def rollup_rebuild(*, since: datetime, until: datetime) -> int:
    """Recompute the whole hours from `since` to `until` from the messages and replace their rows; returns how many
    rows it wrote. A message counts once per event at its final state (a dead letter staff requeued and then
    delivered counts as delivered only). Safe for hours no message will move in any more (older than the last
    hour); for the current hour a live count racing the rebuild could be lost."""
    since, until = hour_of(since), hour_of(until - timedelta(microseconds=1)) + timedelta(hours=1)
    sums = _rebuilt(since, until)
    with transaction.atomic():
        MessageRollup.objects.filter(hour__gte=since, hour__lt=until).delete()
        keys = sorted(sums)
        for start in range(0, len(keys), 2000):
            rollup_add({key: sums[key] for key in keys[start : start + 2000]})
    return len(sums)
