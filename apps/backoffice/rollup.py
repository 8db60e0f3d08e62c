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
The price: a process killed between its commit and the upsert loses that count. `rollup_rebuild` (the
`backoffice_rollup_rebuild` command and the nightly `backoffice.rollup_repair` task) recomputes whole hours from the
messages and replaces them, which also fills the table for a database that had messages before this existed.
"""

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.backoffice.models import MessageRollup
from apps.messaging.events import MessagesAccepted, MessageStatusChanged
from apps.messaging.selectors import message_moments

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
    transaction.on_commit(lambda: rollup_add(sums))


def rollup_on_status_changed(event: MessageStatusChanged) -> None:
    """Count a message reaching a status the dashboard shows, once the move is committed."""
    message = event.message
    if event.status not in COUNTED:
        return
    sums: dict[Key, Sums] = {}
    at = getattr(message, MOMENT.get(event.status, "finished_at"), None) or timezone.now()
    _count_status(
        sums,
        status=event.status,
        at=at,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
        carrier=message.carrier,
        priority=message.priority,
        organization_id=message.organization_id,
        segments=message.segments,
        charged=message.price_charged or 0,
    )
    transaction.on_commit(lambda: rollup_add(sums))


def _moments(rows: Iterable[tuple], since: datetime, until: datetime) -> Iterator[dict[str, object]]:
    for created_at, sent_at, delivered_at, finished_at, status, carrier, priority, org, segments, charged in rows:
        common = {"carrier": carrier, "priority": priority, "organization_id": org, "segments": segments}
        if since <= created_at < until:
            yield {"status": SUBMITTED, "at": created_at, **common}
        if sent_at is not None and since <= sent_at < until:
            yield {"status": "sent", "at": sent_at, "created_at": created_at, "delivered_at": None, **common}
        at = delivered_at if status == "delivered" else finished_at
        if status in COUNTED and status != "sent" and at is not None and since <= at < until:
            moment = {"created_at": created_at, "delivered_at": delivered_at, "charged": charged or 0}
            yield {"status": status, "at": at, **moment, **common}


def rollup_rebuild(*, since: datetime, until: datetime) -> int:
    """Recompute the whole hours from `since` to `until` from the messages and replace their rows; returns how many
    rows it wrote. A message counts once per event at its final state (a dead letter staff requeued and then
    delivered counts as delivered only). Safe for hours no message will move in any more (older than the last
    hour); for the current hour a live count racing the rebuild could be lost."""
    since, until = hour_of(since), hour_of(until - timedelta(microseconds=1)) + timedelta(hours=1)
    sums: dict[Key, Sums] = defaultdict(lambda: [0, 0, 0, 0])
    for moment in _moments(message_moments(since=since, until=until), since, until):
        status, at = moment.pop("status"), moment.pop("at")
        if status == SUBMITTED:
            _count(sums, event=SUBMITTED, at=at, **moment)  # type: ignore[arg-type]
        else:
            _count_status(sums, status=status, at=at, **moment)  # type: ignore[arg-type]
    with transaction.atomic():
        MessageRollup.objects.filter(hour__gte=since, hour__lt=until).delete()
        keys = sorted(sums)
        for start in range(0, len(keys), 2000):
            rollup_add({key: sums[key] for key in keys[start : start + 2000]})
    return len(sums)
