"""Payout queue figures on /metrics, read from the database when scraped (the web process serving /metrics is not
the worker that changes payouts, so a gauge set in the worker would never be seen)."""

import logging
from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.incentives.payouts.choices import OPEN_STATUSES, PayoutMethod

logger = logging.getLogger(__name__)


class PayoutQueueCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.incentives.models import Payout

        pending = GaugeMetricFamily(
            "peerpower_payouts_pending",
            "Payouts not final yet (awaiting approval, queued, sending or pending an outcome), by method.",
            labels=["method"],
        )
        oldest = GaugeMetricFamily(
            "peerpower_payouts_oldest_pending_seconds",
            "Age of the oldest payout not final yet, by method (0 when none).",
            labels=["method"],
        )
        rows: dict[str, tuple[int, float]] = {}
        try:
            now = timezone.now()
            for row in (
                Payout.objects.filter(status__in=OPEN_STATUSES)
                .values("method")
                .annotate(count=Count("id"), first=Min("created_at"))
            ):
                rows[row["method"]] = (row["count"], (now - row["first"]).total_seconds())
        except Exception:  # no database, no table yet: the other metrics must still be scraped
            logger.warning("payout figures unavailable", exc_info=True)
        for method in PayoutMethod.values:
            count, age = rows.get(method, (0, 0.0))
            pending.add_metric([method], count)
            oldest.add_metric([method], max(age, 0.0))
        yield pending
        yield oldest

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
