"""The ledger's figures on /metrics, read from the latest reconciliation when scraped.

The check runs in a Celery worker while /metrics is served by the web processes, so a gauge set in the worker would
never be seen: this collector reads the latest `LedgerCheck` row instead (one indexed query per scrape).
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class LedgerCheckCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.tokens.models import LedgerCheck

        imbalance = GaugeMetricFamily(
            "peerpower_ledger_imbalance",
            "Ledger imbalance in smallest units found by the latest ledger check (0 when sound), by ledger.",
            labels=["ledger"],
        )
        breaks = GaugeMetricFamily("peerpower_ledger_breaks", "Broken invariants found by the latest ledger check.")
        checked = GaugeMetricFamily("peerpower_ledger_check_timestamp_seconds", "When the latest ledger check ran.")
        try:
            latest = LedgerCheck.objects.order_by("-started_at").first()
        except Exception:  # no database, no table yet: the other metrics must still be scraped
            logger.warning("ledger check figures unavailable", exc_info=True)
            latest = None
        if latest is not None:
            for code, amount in sorted(latest.imbalance.items()):
                imbalance.add_metric([code], amount)
            breaks.add_metric([], latest.breaks)
            checked.add_metric([], latest.started_at.timestamp())
        yield imbalance
        yield breaks
        yield checked

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
