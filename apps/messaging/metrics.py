"""The message queue's figures on /metrics.

Counters are incremented where things happen (in whichever process: web or worker, added up through the shared
metrics folder); the live collector reads the unfinished messages with one grouped query when scraped (cached a
few seconds). Finished messages are counted by the counter rather than the query: their number only grows, and a
count of them would read the whole table on each scrape. Labels are statuses, priorities, carriers and outcomes,
all fixed sets: never a message, client or provider.
"""

from collections.abc import Iterator

from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from apps.core.metrics import CachedCollector
from apps.messaging.choices import MessageStatus, Priority

MESSAGES_FINISHED = Counter(
    "peerpower_messages_finished_total",
    "Messages reaching a final status (delivered, failed, expired, ...), by recipient carrier and status.",
    ["carrier", "status"],
)
DISPATCHED = Counter(
    "peerpower_dispatch_total",
    "Queued messages the dispatcher took, by priority and outcome (assigned, waiting: no capacity, expired, "
    "deferred: left for the next batch).",
    ["priority", "outcome"],
)

# Statuses a message passes through on its way to a final one: few rows at any time, read from the status index.
UNFINISHED = (MessageStatus.HELD, MessageStatus.QUEUED, MessageStatus.ASSIGNED, MessageStatus.SENT)


class MessageQueueCollector(CachedCollector):
    """Unfinished messages by status and priority, and the age of the oldest queued message per priority."""

    def read(self) -> Iterator[GaugeMetricFamily]:
        from apps.messaging.models import Message

        by_status = GaugeMetricFamily(
            "peerpower_messages", "Unfinished messages by status and priority.", labels=["status", "priority"]
        )
        depth = GaugeMetricFamily(
            "peerpower_queue_depth",
            "Messages queued for dispatch (due or backing off), by priority.",
            labels=["priority"],
        )
        oldest = GaugeMetricFamily(
            "peerpower_queue_oldest_age_seconds",
            "How long the longest-waiting queued message has waited (since it was accepted, or since its scheduled "
            "time), by priority; 0 when none waits.",
            labels=["priority"],
        )
        rows = (
            Message.objects.filter(status__in=UNFINISHED)
            .values("status", "priority")
            .annotate(count=Count("id"), oldest=Min(Coalesce("scheduled_at", "created_at")))
            .order_by()
        )
        found = {(row["status"], row["priority"]): row for row in rows}
        now = timezone.now()
        for status in UNFINISHED:
            for priority in Priority.values:
                row = found.get((status, priority))
                by_status.add_metric([status, priority], row["count"] if row else 0)
        for priority in Priority.values:
            row = found.get((MessageStatus.QUEUED, priority))
            depth.add_metric([priority], row["count"] if row else 0)
            oldest.add_metric([priority], max(0.0, (now - row["oldest"]).total_seconds()) if row else 0.0)
        yield by_status
        yield depth
        yield oldest
